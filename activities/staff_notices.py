"""The staff-notices job's activity: decide the new in-app notifications by their users' preferences and
list the messages still to go (db.staff_notices says how nothing is sent twice or dropped)."""

from __future__ import annotations

from temporalio import activity

from db import staff_notices
from db.engine import SessionFactory
from domain.notification_types import NotificationRequest
from domain.staff_notify import StaffNoticesRunInput


class StaffNoticeActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def due_staff_notices(self, run: StaffNoticesRunInput) -> list[NotificationRequest]:
        assert run.at is not None  # the workflow fixes it
        async with self._sessions() as session, session.begin():
            await staff_notices.decide(session, run.at, run.batch_size)
            return await staff_notices.due(session, run.at, run.batch_size)
