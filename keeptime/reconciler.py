"""The reconciler: every row that says its workflow should be running gets one (the safety net polling never
had). Appointments (pending, confirmed, checked in; not archived; starting within the horizon), active
policies and valid or expiring vaccinations whose workflow is missing, or closed (terminated, failed, timed
out) while the row is still active, are started again. Starting is idempotent (``USE_EXISTING``) and every
side effect of a restarted workflow is claimed by key, so nothing is sent twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from db import appointments as store
from db import pets, policies
from db.engine import SessionFactory
from db.models import Appointment, Vaccination
from keeptime.appointment_service import appointment_workflow_id, ensure_workflow
from keeptime.policy_service import policy_workflow_id, start_policy_workflow
from keeptime.vaccination_service import start_vaccination_workflow, vaccination_workflow_id

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
        ]
        for workflow_id, restart in expected:
            report.scanned += 1
            tick(1)
            if await needs_start(client, workflow_id):
                await restart()
                report.started.append(workflow_id)
    return report
