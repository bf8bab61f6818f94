"""What a customer chose to receive, by category of message, and the signed one-click unsubscribe token.

Transactional messages (booking confirmations, changes, cancellations, no-show notices, expiry notices) always
go out on an allowed channel; reminders, review requests and announcements (broadcasts) can be turned off one
by one. The token authenticates an unsubscribe link without a login: HMAC-SHA256 over the customer and the
category with the deployment's webhook secret (RFC 8058 asks for an opaque identifier in the URI)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

Category = Literal["transactional", "reminders", "review_requests", "announcements"]
OPTIONAL_CATEGORIES: tuple[Category, ...] = ("reminders", "review_requests", "announcements")


class Preferences(BaseModel):
    """Per-category consent; every category is on until the customer turns it off."""

    model_config = ConfigDict(extra="forbid")

    reminders: bool = True
    review_requests: bool = True
    announcements: bool = True

    def allows(self, category: Category) -> bool:
        return category == "transactional" or bool(getattr(self, category))

    @classmethod
    def from_stored(cls, raw: object) -> Preferences:
        """Read a stored row tolerantly: anything unreadable counts as "everything on" for that field."""
        values = raw if isinstance(raw, dict) else {}
        known = {
            key: value for key, value in values.items() if key in cls.model_fields and isinstance(value, bool)
        }
        try:
            return cls.model_validate(known)
        except ValidationError:
            return cls()


def unsubscribe_token(secret: str, customer_id: int, category: str) -> str:
    digest = hmac.new(secret.encode(), f"{customer_id}:{category}".encode(), hashlib.sha256).hexdigest()
    return digest[:40]


def valid_unsubscribe_token(secret: str, customer_id: int, category: str, token: str) -> bool:
    return hmac.compare_digest(unsubscribe_token(secret, customer_id, category), token)
