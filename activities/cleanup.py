"""Notification-log cleanup: one short transaction per batch, keyset-paginated on (updated_at, id)."""

from __future__ import annotations

import time
from datetime import datetime

from temporalio import activity

from db.batch_statements import NOTIFICATION_LOG_DELETE
from db.engine import SessionFactory
from domain.job_types import DeleteBatchInput, DeleteBatchResult

_BEGINNING = datetime(1970, 1, 1).isoformat() + "+00:00"


class CleanupActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def delete_notification_log_batch(self, batch: DeleteBatchInput) -> DeleteBatchResult:
        after_at, after_id = batch.after or (_BEGINNING, 0)
        began = time.monotonic()
        async with self._sessions() as session, session.begin():
            row = (
                await session.execute(
                    NOTIFICATION_LOG_DELETE,
                    {
                        "status": batch.status,
                        "cutoff": datetime.fromisoformat(batch.cutoff),
                        "after_at": datetime.fromisoformat(after_at),
                        "after_id": after_id,
                        "limit": batch.limit,
                    },
                )
            ).one()
        deleted = int(row.deleted)
        last = (row.last_at.isoformat(), int(row.last_id)) if deleted else batch.after
        return DeleteBatchResult(
            deleted=deleted, last=last, done=deleted < batch.limit, seconds=round(time.monotonic() - began, 4)
        )
