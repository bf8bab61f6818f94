"""Admin digest activities: read when the business's next digest is due (its settings, its zone)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from temporalio import activity

from db.engine import SessionFactory
from db.models import Business
from domain.admin_digest import DigestPlan, PlanDigestInput, next_digest_at
from domain.automation import AutomationSettings


class AdminDigestActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def plan_digest(self, plan: PlanDigestInput) -> DigestPlan:
        """The live settings: the mode and, in digest mode, the next digest instant after ``now``."""
        async with self._sessions() as session:
            business = await session.get(Business, plan.business_id)
        if business is None:
            return DigestPlan(mode="each")  # gone: the workflow ends
        settings = AutomationSettings.from_stored(business.automation).settings
        if settings.admin_alerts != "daily_digest":
            return DigestPlan(mode=settings.admin_alerts, settings_revision=business.settings_revision)
        next_at = next_digest_at(plan.now, settings.admin_digest_time, ZoneInfo(business.time_zone))
        return DigestPlan(mode="daily_digest", next_at=next_at, settings_revision=business.settings_revision)
