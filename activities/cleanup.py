"""Notification-log cleanup: one short transaction per batch, keyset-paginated on (updated_at, id)."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import text
from temporalio import activity

from activities.job_types import DeleteBatchInput, DeleteBatchResult
from db.engine import SessionFactory

# The (status, updated_at) index serves both the filter and the order; a batch locks only its own rows.
_DELETE_BATCH = text(
    """
    WITH doomed AS (
        SELECT id, updated_at FROM notification_log
         WHERE status = :status AND updated_at < :cutoff
           AND (updated_at, id) > (:after_at, :after_id)
         ORDER BY updated_at, id
         LIMIT :limit
    ), gone AS (
        DELETE FROM notification_log n USING doomed d WHERE n.id = d.id RETURNING d.updated_at, d.id
    )
    SELECT count(*) AS deleted, max(updated_at) AS last_at,
           (SELECT id FROM gone ORDER BY updated_at DESC, id DESC LIMIT 1) AS last_id
      FROM gone
    """
)
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
                    _DELETE_BATCH,
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
