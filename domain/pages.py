"""List cursors (pure): where a keyset page of a list route ends, as an opaque string.

A cursor names the list's order and the last row's sort key (e.g. ``["starts_at", "2031-03-14T13:00:00+00:00",
17]``), base64url-encoded. It says where to continue, not what may be seen: every page is still filtered by
the caller's business, so a cursor edited by hand moves a reader within its own rows only, and one that is
not a cursor of this order is refused (``BadCursor``, a 422 naming ``after``).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime
from typing import Any

MAX_CURSOR_CHARS = 512


class BadCursor(ValueError):
    pass


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def encode(order: str, key: tuple[Any, ...]) -> str:
    raw = json.dumps([order, *(_plain(v) for v in key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, order: str, width: int) -> list[Any]:
    """The sort key a cursor of ``order`` holds (``width`` values, as encoded), or ``BadCursor``."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise BadCursor("not a cursor of this list")
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("not a cursor of this list") from exc
    if not isinstance(raw, list) or len(raw) != width + 1 or raw[0] != order:
        raise BadCursor(f"not a cursor of this list in its {order} order (pass the next_cursor it answered)")
    return raw[1:]
