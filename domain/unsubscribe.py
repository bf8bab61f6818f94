"""The signed unsubscribe link: who may turn which category off, for which business, until when.

A link must work without a login (RFC 8058 section 3.1 asks for an opaque identifier in an HTTPS URI), so it
carries a grant signed with the deployment's ``UNSUBSCRIBE_SECRET`` (a key for this purpose only): the
business, the customer, the category and an expiry. Customer ids are sequential, so the signature is the only
thing that stops a stranger from turning off every customer's reminders; the business binding makes a link
useless for another business's customer with the same id, and the expiry bounds how long a forwarded e-mail
can act. The token is ``<payload>.<mac>``, both base64url without padding."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from domain.preferences import OPTIONAL_CATEGORIES, Category

PURPOSE = b"keeptime/unsubscribe/v1\x00"  # a MAC made for this purpose can never pass for another
MAC_BYTES = 20  # 160 bits: far past guessing, and the link stays short
DEFAULT_VALID_FOR = timedelta(days=60)


class BadToken(ValueError):
    """Not a link we signed (forged, cut, or signed with another key)."""


class ExpiredToken(ValueError):
    """A link we signed whose time is up: the person needs the link of a newer message."""

    def __init__(self, grant: UnsubscribeGrant) -> None:
        super().__init__(f"expired at {grant.expires_at.isoformat()}")
        self.grant = grant


@dataclass(frozen=True)
class UnsubscribeGrant:
    business_id: int
    customer_id: int
    category: Category
    expires_at: datetime


def grant_for(
    business_id: int, customer_id: int, category: Category, now: datetime, valid_for: timedelta
) -> UnsubscribeGrant:
    expires = (now + valid_for).replace(microsecond=0)
    return UnsubscribeGrant(business_id, customer_id, category, expires.astimezone(UTC))


def sign(secret: str, grant: UnsubscribeGrant) -> str:
    payload = (
        f"{grant.business_id}.{grant.customer_id}.{grant.category}.{int(grant.expires_at.timestamp())}"
    ).encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def link(base_url: str, secret: str, grant: UnsubscribeGrant) -> str:
    """The URL an e-mail carries (in ``List-Unsubscribe`` and in its body)."""
    return f"{base_url.rstrip('/')}/v1/unsubscribe/{sign(secret, grant)}"


def verify(secret: str, token: str, now: datetime) -> UnsubscribeGrant:
    """The grant a token carries; ``BadToken`` unless we signed it, ``ExpiredToken`` once its time is up."""
    encoded, _, mac = token.partition(".")
    try:
        payload, given = _unb64(encoded), _unb64(mac)
    except (binascii.Error, ValueError) as exc:
        raise BadToken("not a token") from exc
    if not hmac.compare_digest(_mac(secret, payload), given):
        raise BadToken("bad signature")
    try:  # a payload we signed always parses; a key reused elsewhere must still not become a 500
        business, customer, category, expires = payload.decode().split(".")
        grant = UnsubscribeGrant(
            int(business), int(customer), cast(Category, category), datetime.fromtimestamp(int(expires), UTC)
        )
    except (ValueError, OverflowError, OSError) as exc:
        raise BadToken("not a grant") from exc
    if grant.category not in OPTIONAL_CATEGORIES:  # signed by us, so this is a bug, not an attack
        raise BadToken(f"category {grant.category!r} cannot be turned off")
    if now >= grant.expires_at:
        raise ExpiredToken(grant)
    return grant


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), PURPOSE + payload, hashlib.sha256).digest()[:MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or not text.isascii():
        raise ValueError("empty or not ASCII")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
