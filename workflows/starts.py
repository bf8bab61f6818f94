"""Starting the entity workflows, idempotently: the booking services, the reconciler and the tests all start
them through these, with the same ids, search attributes and summaries."""

from __future__ import annotations

import contextlib
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from db.models import Policy, Vaccination
from domain import search_attributes as attrs
from domain.admin_digest import AdminDigestInput
from domain.appointment_types import AppointmentInput, AppointmentSnapshot
from domain.daily_plan_types import DailyPlanInput, DailyPlanSnapshot
from domain.ids import (
    admin_digest_workflow_id,
    appointment_workflow_id,
    daily_plan_workflow_id,
    invoice_workflow_id,
    policy_workflow_id,
    settings_rollout_workflow_id,
    vaccination_workflow_id,
)
from domain.invoice_types import InvoiceInput, InvoiceSnapshot
from domain.policy_types import PolicyInput
from domain.rollout_types import RolloutInput, SettingsChanged
from domain.task_queues import APPOINTMENTS, CALLS, MAINTENANCE
from domain.vaccination_types import VaccinationInput, VaccinationSnapshot
from workflows.appointment import AppointmentWorkflow
from workflows.daily_plan import DailyPlanWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.policy import PolicyWorkflow
from workflows.vaccination import VaccinationWorkflow


def summary_of(snapshot: AppointmentSnapshot) -> str:
    """``Appointment 123 · Fri 14 Mar 14:00 Europe/Berlin``: the Web UI's one-line description."""
    local = snapshot.starts_at.astimezone(ZoneInfo(snapshot.time_zone))
    return f"Appointment {snapshot.appointment_id} · {local:%a %d %b %H:%M} {snapshot.time_zone}"


async def ensure_workflow(
    client: Client, snapshot: AppointmentSnapshot, *, restart_closed: bool = False
) -> WorkflowHandle[Any, Any]:
    """Start ``appointment-<id>`` unless it runs or has run: safe to call any number of times.

    ``restart_closed``: the reconciler's case, the row is active but its workflow was closed (terminated)."""
    workflow_id = appointment_workflow_id(snapshot.appointment_id)
    try:
        return await client.start_workflow(
            AppointmentWorkflow.run,
            AppointmentInput(
                appointment_id=snapshot.appointment_id, business_id=snapshot.business_id, snapshot=snapshot
            ),
            id=workflow_id,
            task_queue=APPOINTMENTS,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE
            if restart_closed
            else WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=attrs.entity_attributes(
                snapshot.business_id, "appointment", snapshot.status, snapshot.starts_at
            ),
            static_summary=summary_of(snapshot),
            static_details=f"business {snapshot.business_id}, customer {snapshot.customer_id}",
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle_for(AppointmentWorkflow.run, workflow_id)  # ran and finished


async def start_policy_workflow(client: Client, policy: Policy) -> WorkflowHandle[Any, Any]:
    """Start ``policy-<id>`` unless it runs already (idempotent: the API and the reconciler both call it)."""
    return await client.start_workflow(
        PolicyWorkflow.run,
        PolicyInput(policy_id=policy.id, business_id=policy.business_id),
        id=policy_workflow_id(policy.id),
        task_queue=CALLS,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=attrs.entity_attributes(policy.business_id, "policy", "call_scheduled"),
        static_summary=f"Policy {policy.policy_number} ({policy.product or 'policy'}) · "
        f"{policy.duration_months}-month term",
    )


async def start_vaccination_workflow(
    client: Client, record: Vaccination, snapshot: VaccinationSnapshot
) -> None:
    """Start ``vaccination-<id>`` unless it runs already (the API and the reconciler both call it)."""
    await client.start_workflow(
        VaccinationWorkflow.run,
        VaccinationInput(vaccination_id=record.id, business_id=record.business_id, snapshot=snapshot),
        id=vaccination_workflow_id(record.id),
        task_queue=MAINTENANCE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=attrs.entity_attributes(record.business_id, "vaccination", snapshot.status),
        static_summary=f"Vaccination {record.id} ({record.vaccine}) · expires {record.expires_at:%Y-%m-%d}",
    )


async def start_invoice_workflow(
    client: Client, snapshot: InvoiceSnapshot, *, restart_closed: bool = False
) -> None:
    """Start ``invoice-<id>`` unless it runs already (the API, a retried request and the reconciler call it).

    A finished run is not started again unless ``restart_closed`` (the reconciler's case: the row is still
    open but its workflow was terminated)."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            InvoiceWorkflow.run,
            InvoiceInput(invoice_id=snapshot.invoice_id, business_id=snapshot.business_id, snapshot=snapshot),
            id=invoice_workflow_id(snapshot.invoice_id),
            task_queue=MAINTENANCE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE
            if restart_closed
            else WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=attrs.entity_attributes(snapshot.business_id, "invoice", snapshot.status.value),
            static_summary=f"Invoice {snapshot.invoice_id} · due {snapshot.due_on:%a %d %b %Y} "
            f"{snapshot.time_zone}",
        )


async def start_daily_plan_workflow(client: Client, snapshot: DailyPlanSnapshot) -> bool:
    """Start ``daily-plan-<id>`` unless it runs or has run (the API, a retried request and the reconciler
    call it); False when it has run and ended."""
    try:
        await client.start_workflow(
            DailyPlanWorkflow.run,
            DailyPlanInput(plan_id=snapshot.plan_id, business_id=snapshot.business_id, snapshot=snapshot),
            id=daily_plan_workflow_id(snapshot.plan_id),
            task_queue=MAINTENANCE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # A run that completed (it alerted, or the plan was submitted) is final; one that was terminated
            # or failed may run again (the reconciler's case).
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            search_attributes=attrs.entity_attributes(
                snapshot.business_id, "daily_plan", snapshot.status.value
            ),
            static_summary=f"Daily plan {snapshot.plan_id} of project {snapshot.project_id} · "
            f"{snapshot.plan_date:%a %d %b %Y}, deadline {snapshot.deadline:%H:%M} UTC",
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


ROLLOUT_WORKFLOW = "SettingsRolloutWorkflow"  # by name: the rollout's activities start workflows through here


async def ensure_rollout(client: Client, business_id: int, revision: int) -> str:
    """Start the rollout of a settings revision unless it runs or has finished; returns its workflow id.

    A rollout that failed or was terminated may run again (the reconciler's case: the business's
    ``rolled_out_revision`` is still behind)."""
    workflow_id = settings_rollout_workflow_id(business_id, revision)
    with contextlib.suppress(WorkflowAlreadyStartedError):  # finished: it reached every workflow
        await client.start_workflow(
            ROLLOUT_WORKFLOW,
            RolloutInput(business_id=business_id, revision=revision),
            id=workflow_id,
            task_queue=MAINTENANCE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            search_attributes=attrs.entity_attributes(business_id, "settings_rollout", "running"),
            static_summary=f"Settings revision {revision} of business {business_id} → its sleeping workflows",
        )
    return workflow_id


DIGEST_WORKFLOW = "AdminDigestWorkflow"


async def ensure_admin_digest(client: Client, business_id: int, *, daily_digest: bool) -> bool:
    """In digest mode, start ``admin-digest-<business>`` or tell the running one; else tell a running one
    (it sends its final digest and ends).

    Returns whether a digest workflow runs now. Safe to repeat: the API, the rollout and the reconciler call
    it."""
    workflow_id = admin_digest_workflow_id(business_id)
    if daily_digest:
        # Signal-with-start: a running digest hears the change (a new time or zone plans again) in the same
        # call that starts a missing one; a repeat only makes it plan again.
        await client.start_workflow(
            DIGEST_WORKFLOW,
            AdminDigestInput(business_id=business_id),
            id=workflow_id,
            task_queue=MAINTENANCE,
            start_signal="settings_changed",
            start_signal_args=[SettingsChanged(revision=1)],
            search_attributes=attrs.entity_attributes(business_id, "admin_digest", "daily_digest"),
            static_summary=f"Daily digest of business {business_id}",
        )
        return True
    with contextlib.suppress(RPCError):  # none runs: nothing to tell
        await client.get_workflow_handle(workflow_id).signal("settings_changed", SettingsChanged(revision=1))
    return False
