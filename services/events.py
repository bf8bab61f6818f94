"""The event feed: a business's events after an opaque cursor, as ``GET /v1/events`` serves them.

The cursor names a position in the business's feed (``db.events.Position``) and is signed with
``CURSOR_SECRET`` (HMAC-SHA256 over the business and the position, cut to 128 bits), so a cursor altered by
hand, or one of another business, is refused rather than followed somewhere else. The ``event-retention``
job deletes events older than 30 days (``JOB_OVERRIDES`` changes it); a cursor whose events are gone
continues at the oldest event kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from db import events as store
from db.engine import SessionFactory
from domain.events import Event
from keeptime.settings import Settings

_PURPOSE = b"keeptime-events-cursor:v1:"


class BadCursor(ValueError):
    """The cursor was not made by this server for this business."""


@dataclass(frozen=True)
class FeedPage:
    items: list[Event]
    next_cursor: str | None  # where to continue (the last item's position; the request's own if none)
    has_more: bool


def _mac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), _PURPOSE + text.encode(), hashlib.sha256).hexdigest()[:32]


def encode_cursor(settings: Settings, business_id: int, position: store.Position) -> str:
    text = f"{business_id}.{position.txid}.{position.id}"
    signed = f"{text}.{_mac(settings.cursor_secret.get_secret_value(), text)}"
    return base64.urlsafe_b64encode(signed.encode()).decode().rstrip("=")


def decode_cursor(settings: Settings, business_id: int, cursor: str) -> store.Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        business, txid, row_id, mac = raw.split(".")
        position = store.Position(int(txid), int(row_id))
        text = f"{business}.{txid}.{row_id}"
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor("not a cursor of this feed") from exc
    expected = _mac(settings.cursor_secret.get_secret_value(), text)
    if not hmac.compare_digest(mac, expected) or business != str(business_id):
        raise BadCursor("not a cursor of this feed (altered, or another business's)")
    return position


async def feed(
    sessions: SessionFactory,
    settings: Settings,
    business_id: int,
    *,
    after: str | None,
    types: list[str] | None,
    limit: int,
) -> FeedPage:
    """The events after ``after`` (None: from the oldest kept), at most ``limit``. Raises ``BadCursor``."""
    position = decode_cursor(settings, business_id, after) if after else None
    async with sessions() as session:
        rows = await store.page(session, business_id, position, types, limit + 1)
    has_more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        last = rows[-1]
        next_cursor: str | None = encode_cursor(settings, business_id, store.Position(last.txid, last.id))
    else:
        next_cursor = after
    return FeedPage([store.as_event(row) for row in rows], next_cursor, has_more)
