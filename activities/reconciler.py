"""The reconciler: active rows whose workflow is missing get it back (the safety net polling never had)."""

from __future__ import annotations

import time

from temporalio import activity
from temporalio.client import Client

from activities.job_types import JobMetrics, ReconcileInput
from db.engine import SessionFactory


class ReconcilerActivities:
    def __init__(self, sessions: SessionFactory, client: Client) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn
    async def reconcile_workflows(self, request: ReconcileInput) -> JobMetrics:
        from keeptime.reconciler import reconcile_workflows

        began = time.monotonic()
        report = await reconcile_workflows(
            self._sessions,
            self._client,
            horizon_days=request.horizon_days,
            progress=lambda n: activity.heartbeat(n),
        )
        return JobMetrics(
            job="reconciler",
            scanned=report.scanned,
            changed=len(report.started),
            duration_s=round(time.monotonic() - began, 3),
            details=[f"started {workflow_id}" for workflow_id in report.started],
        )
