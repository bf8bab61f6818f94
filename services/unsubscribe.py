"""The unsubscribe link, end to end: verify its grant, then read or turn off the customer's category.

The API hands in the token as it came; this answers with what a person (or a mail client) needs to see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from db import unsubscribe as stored
from db.engine import SessionFactory
from domain.preferences import Category, Preferences
from domain.unsubscribe import UnsubscribeGrant, verify
from keeptime.settings import Settings


@dataclass(frozen=True)
class Subscription:
    grant: UnsubscribeGrant
    business_name: str
    subscribed: bool

    @property
    def category(self) -> Category:
        return self.grant.category


async def subscription(
    sessions: SessionFactory, settings: Settings, token: str, *, unsubscribe: bool
) -> Subscription | None:
    """The subscription a token names (None: the customer is gone or not the business's); with
    ``unsubscribe``, after turning the category off. Raises ``BadToken`` / ``ExpiredToken``."""
    grant = verify(settings.unsubscribe_secret.get_secret_value(), token, datetime.now(UTC))
    async with sessions() as session:
        found = await stored.subscription(
            session, grant.business_id, grant.customer_id, turn_off=grant.category if unsubscribe else None
        )
    if found is None:
        return None
    subscribed = Preferences.from_stored(found.preferences).allows(grant.category)
    return Subscription(grant, found.business_name, subscribed)
