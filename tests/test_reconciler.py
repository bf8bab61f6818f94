"""The reconciler job on the dev server: workflows terminated by hand come back, nothing is sent twice, and
a second run finds nothing to fix."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from db import daily_plans
from db.engine import SessionFactory
from db.models import NotificationLog, Pet
from domain.ids import (
    appointment_workflow_id,
    daily_plan_workflow_id,
    invoice_workflow_id,
    policy_workflow_id,
    vaccination_workflow_id,
)
from domain.job_types import JobMetrics, ReconcileInput
from domain.task_queues import MAINTENANCE
from keeptime.settings import Settings
from services.appointments import book_appointment
from services.daily_plans import create_daily_plan
from services.invoices import create_invoice
from services.vaccinations import register_vaccination
from tests.appointment_support import eventually
from tests.peers import ProviderPeer, SmtpPeer
from tests.policy_support import make_insurer, make_policy
from tests.support import running_worker
from workflows.jobs import ReconcilerWorkflow


async def _sent(sessions: SessionFactory) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(NotificationLog)) or 0)


async def test_terminated_workflows_come_back_once_and_send_nothing_twice(
    dev_env: WorkflowEnvironment,
    sessions: SessionFactory,
    api_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    client = dev_env.client
    insurer = await make_insurer(sessions)
    async with running_worker(client, sessions, api_settings):
        starts = datetime.now(UTC) + timedelta(days=3)
        appointment, _ = await book_appointment(
            sessions,
            client,
            insurer.business.id,
            {"customer_id": insurer.customer_id, "starts_at": starts, "ends_at": starts + timedelta(hours=1)},
            idempotency_key=None,
        )
        policy, _ = await make_policy(sessions, client, insurer, date.today() + timedelta(days=90))
        async with sessions() as session:
            pet = Pet(business_id=insurer.business.id, owner_id=insurer.customer_id, name="Rex")
            session.add(pet)
            await session.commit()
        record = await register_vaccination(
            sessions,
            client,
            insurer.business.id,
            {"pet_id": pet.id, "vaccine": "Rabies", "expires_at": datetime.now(UTC) + timedelta(days=200)},
        )
        invoice, _ = await create_invoice(
            sessions,
            client,
            insurer.business.id,
            {
                "number": "R-1",
                "amount_cents": 100,
                "currency": "EUR",
                "due_on": date.today() + timedelta(days=60),
            },
        )
        async with sessions() as session:
            project, _ = await daily_plans.add_project(
                session, insurer.business.id, {"name": "Site"}, key=None
            )
        plan, _ = await create_daily_plan(
            sessions, client, insurer.business.id, project.id, date.today() + timedelta(days=5)
        )
        ids = [
            daily_plan_workflow_id(plan.id),
            appointment_workflow_id(appointment.id),
            policy_workflow_id(policy.id),
            vaccination_workflow_id(record.id),
            invoice_workflow_id(invoice.id),
        ]
        # the confirmation to the customer and the new-booking alert to the business
        await eventually(lambda: _sent_two(sessions), what="the booking messages")
        messages_before = await _sent(sessions)
        for workflow_id in ids:
            await client.get_workflow_handle(workflow_id).terminate("lost by hand")

        async def reconcile() -> JobMetrics:
            return await client.execute_workflow(
                ReconcilerWorkflow.run,
                ReconcileInput(),
                id=f"test-reconcile-{uuid.uuid4()}",
                task_queue=MAINTENANCE,
            )

        first = await reconcile()
        for workflow_id in ids:
            assert (
                await client.get_workflow_handle(workflow_id).describe()
            ).status == WorkflowExecutionStatus.RUNNING
        second = await reconcile()
        await eventually(lambda: _planned(client, ids[2]), what="the restarted policy to plan")
        await eventually(lambda: _announced(client, ids[1]), what="the restarted booking to announce itself")
        assert (
            await _sent(sessions) == messages_before
        )  # the restarted booking found its confirmation settled
    assert (first.scanned, first.changed) == (5, 5)
    assert sorted(first.details) == sorted(f"started {i}" for i in ids)
    assert (second.scanned, second.changed) == (5, 0)


async def _sent_two(sessions: SessionFactory) -> bool:
    return await _sent(sessions) == 2


async def _planned(client, workflow_id: str) -> bool:  # type: ignore[no-untyped-def]
    from workflows.policy import PolicyWorkflow

    view = await client.get_workflow_handle(workflow_id).query(PolicyWorkflow.state)
    return bool(view.phase == "call_scheduled")


async def _announced(client, workflow_id: str) -> bool:  # type: ignore[no-untyped-def]
    """The restarted run went through its booking messages (which the log had settled already)."""
    from workflows.appointment import AppointmentWorkflow

    view = await client.get_workflow_handle(workflow_id).query(AppointmentWorkflow.state)
    return {"appointment.booked", "appointment.admin_new_booking"} <= {m.event for m in view.messages}
