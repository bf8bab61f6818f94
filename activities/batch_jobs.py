"""Batch-job activities: one keyset batch per call (archives, cleanups, reputation, business statistics),
and the platform's daily statistics."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from db import stats
from db.batch_statements import STATEMENTS
from db.engine import SessionFactory
from domain.job_types import JobBatchInput, JobBatchResult, PlatformStatsInput, PlatformStatsResult

REPUTATION_MARKER = timedelta(days=6)  # a weekly job: a customer recovers at most once per run


class BatchJobActivities:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def run_job_batch(self, batch: JobBatchInput) -> JobBatchResult:
        statement = STATEMENTS.get(batch.job)
        if statement is None:
            raise ApplicationError(f"unknown batch job {batch.job!r}", type="UnknownJob", non_retryable=True)
        now = datetime.fromisoformat(batch.now)
        params = {
            "after": batch.after,
            "limit": batch.limit,
            "cutoff": datetime.fromisoformat(batch.cutoff),
            "now": now,
            "points": batch.points,
            "cap": batch.cap,
            "marker": now - REPUTATION_MARKER,
            "only": None,
        }
        began = time.monotonic()
        if activity.in_activity():
            activity.heartbeat(batch.after)
        async with self._sessions() as session, session.begin():
            row = (await session.execute(statement, params)).one()
        scanned = int(row.scanned)
        return JobBatchResult(
            scanned=scanned,
            changed=int(row.changed),
            last=int(row.last) if row.last is not None else batch.after,
            done=scanned < batch.limit,
            seconds=round(time.monotonic() - began, 4),
        )

    @activity.defn
    async def compute_platform_stats(self, request: PlatformStatsInput) -> PlatformStatsResult:
        """Figures of one UTC day, stored in ``platform_daily_stats`` (recomputing overwrites the day)."""
        assert request.day is not None
        day = date.fromisoformat(request.day)
        async with self._sessions() as session, session.begin():
            return await stats.store_platform_figures(session, day)
