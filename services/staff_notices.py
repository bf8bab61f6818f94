"""A staff user's notification preferences (db.staff_notices stores them; the staff-notices job reads
them when it decides each new notification)."""

from __future__ import annotations

from db import staff_notices as store
from db.engine import SessionFactory
from db.models import StaffUser
from domain.staff_notify import StaffNotifyPrefs


async def set_preferences(
    sessions: SessionFactory, business_id: int, user_id: int, prefs: StaffNotifyPrefs, phone: str | None
) -> StaffUser | None:
    """Store them (the same again changes nothing); None: no such user of this business."""
    async with sessions() as session:
        return await store.set_preferences(session, business_id, user_id, prefs, phone)
