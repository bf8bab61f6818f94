"""Admin digest activities: read when the business's next digest is due (its settings, its zone)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from temporalio import activity

from db.engine import SessionFactory
from db.models import Business
from db.tenants import digest_reported
from domain.admin_digest import (
    DigestPlan,
    DigestReportedInput,
    PlanDigestInput,
    due_digest,
    next_digest_at,
)
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
        revision = business.settings_revision
        if settings.admin_alerts != "daily_digest":
            since, left = business.digest_since, business.digest_left_at
            final = left if since is not None and left is not None and since < left else None
            return DigestPlan(mode=settings.admin_alerts, settings_revision=revision, final_at=final)
        zone, at = ZoneInfo(business.time_zone), settings.admin_digest_time
        if business.digest_since is None:  # kept since migration 0019; before it: the next instant
            next_at = next_digest_at(plan.now, at, zone)
        else:
            next_at = due_digest(business.digest_since, plan.now, at, zone)
        return DigestPlan(mode="daily_digest", next_at=next_at, settings_revision=revision)

    @activity.defn
    async def digest_reported(self, reported: DigestReportedInput) -> None:
        """Move the window's start to ``until`` (never back); the final digest closes it (unless the business
        is in digest mode again: then its next digest goes on from there)."""
        async with self._sessions() as session:
            await digest_reported(session, reported.business_id, reported.until, final=reported.final)
