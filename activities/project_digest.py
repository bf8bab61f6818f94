"""The weekly project digest's activity: which staff users' digests are due and not yet logged."""

from __future__ import annotations

from temporalio import activity

from db import project_digest
from db.engine import SessionFactory
from domain.notification_types import NotificationRequest
from domain.project_digest import ProjectDigestRunInput


class ProjectDigestActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def due_project_digests(self, run: ProjectDigestRunInput) -> list[NotificationRequest]:
        assert run.at is not None  # the workflow fixes it
        async with self._sessions() as session:
            return await project_digest.due_digests(session, run.at, run.batch_size)
