"""The reconciler: active rows (appointments, policies, vaccinations, open invoices, draft daily plans)
whose workflow is missing or closed get it back (the safety net polling never had). The hourly
``reconciler`` job runs it as an activity; ``python -m starter task:reconcile`` calls
``reconcile_workflows`` directly."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from db import appointments as store
from db import daily_plans, invoices, pets, policies
from db.engine import SessionFactory
from db.models import Appointment, DailyPlan, Invoice, Vaccination
from db.tenants import businesses_not_rolled_out, businesses_with_digest
from domain.ids import (
    admin_digest_workflow_id,
    appointment_workflow_id,
    daily_plan_workflow_id,
    invoice_workflow_id,
    policy_workflow_id,
    settings_rollout_workflow_id,
    vaccination_workflow_id,
)
from domain.job_types import JobMetrics, ReconcileInput
from workflows.starts import (
    ensure_admin_digest,
    ensure_rollout,
    ensure_workflow,
    start_daily_plan_workflow,
    start_invoice_workflow,
    start_policy_workflow,
    start_vaccination_workflow,
)

Progress = Callable[[int], object]


@dataclass
class ReconcileReport:
    scanned: int = 0
    started: list[str] = field(default_factory=list)  # workflow ids


async def needs_start(client: Client, workflow_id: str) -> bool:
    """True if the workflow does not exist or its latest run is no longer running."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return True
    return description.status != WorkflowExecutionStatus.RUNNING


async def reconcile_workflows(
    sessions: SessionFactory, client: Client, *, horizon_days: int = 60, progress: Progress | None = None
) -> ReconcileReport:
    report = ReconcileReport()
    tick = progress or (lambda _: None)
    since = datetime.now(UTC) - timedelta(days=horizon_days)
    async with sessions() as session:

        async def restart_appointment(appointment: Appointment) -> None:
            snapshot = await store.appointment_snapshot(session, appointment)
            await ensure_workflow(client, snapshot, restart_closed=True)

        async def restart_vaccination(record: Vaccination) -> None:
            snapshot = await pets.vaccination_snapshot(session, record)
            await start_vaccination_workflow(client, record, snapshot)

        async def restart_invoice(invoice: Invoice) -> None:
            snapshot = await invoices.snapshot_of(session, invoice)
            await start_invoice_workflow(client, snapshot, restart_closed=True)

        async def start_daily_plan(plan: DailyPlan) -> bool:
            # False: its workflow ran and ended (it alerted at the deadline): nothing to restart
            return await start_daily_plan_workflow(client, await daily_plans.snapshot_of(session, plan))

        expected: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            *(
                (appointment_workflow_id(a.id), partial(restart_appointment, a))
                for a in await store.active_appointments(session, since)
            ),
            *(
                (policy_workflow_id(p.id), partial(start_policy_workflow, client, p))
                for p in await policies.active_policies(session)
            ),
            *(
                (vaccination_workflow_id(v.id), partial(restart_vaccination, v))
                for v in await pets.active_vaccinations(session)
            ),
            *(
                (invoice_workflow_id(i.id), partial(restart_invoice, i))
                for i in await invoices.open_invoices(session)
            ),
            *(  # a draft whose workflow never started (its day is recent: its deadline may still matter)
                (daily_plan_workflow_id(p.id), partial(start_daily_plan, p))
                for p in await daily_plans.drafts_since(session, since.date())
            ),
        ]
        for workflow_id, restart in expected:
            report.scanned += 1
            tick(1)
            if await needs_start(client, workflow_id) and await restart() is not False:
                report.started.append(workflow_id)
        for business_id in await businesses_with_digest(session):
            report.scanned += 1
            if await needs_start(client, admin_digest_workflow_id(business_id)):
                await ensure_admin_digest(client, business_id, daily_digest=True)
                report.started.append(admin_digest_workflow_id(business_id))
        # A settings change whose rollout never started (the API died after the commit) or never finished.
        for business_id, revision in await businesses_not_rolled_out(session):
            report.scanned += 1
            if await needs_start(client, settings_rollout_workflow_id(business_id, revision)):
                report.started.append(await ensure_rollout(client, business_id, revision))
    return report


class ReconcilerActivities:
    def __init__(self, sessions: SessionFactory, client: Client) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn
    async def reconcile_workflows(self, request: ReconcileInput) -> JobMetrics:
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
