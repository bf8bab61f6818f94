"""What a customer chose to receive, by category (the link that turns one off: ``domain.unsubscribe``).

Transactional messages (booking confirmations, changes, cancellations, no-show notices, expiry notices) always
go out on an allowed channel; reminders, review requests and announcements (broadcasts) can be turned off one
by one."""

from __future__ import annotations

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
