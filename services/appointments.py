"""Booking and steering appointments: the database first, then the workflow, idempotently.

The booking path commits the row (with its Idempotency-Key) and then starts ``appointment-<id>``. A process
that dies in between leaves a row without a workflow; the client's retry with the same Idempotency-Key, or
``activities.reconciler`` (hourly, or ``python -m starter task:reconcile``), starts it. A workflow
never exists without its row: it is only started after the commit, and its first activity fails without one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db import appointments as store
from db.conflicts import FieldConflict
from db.engine import SessionFactory
from db.models import Appointment, Business
from domain.appointment_types import (
    RESCHEDULABLE,
    TRANSITIONS,
    AppointmentView,
    CancelInput,
    RescheduleInput,
    ReviewSubmittedInput,
)
from domain.ids import appointment_workflow_id
from keeptime.temporal_client import query_or_none
from workflows.appointment import INVALID, AppointmentWorkflow
from workflows.starts import ensure_workflow

AfterCommit = Callable[[Appointment], None]


async def book_appointment(
    sessions: SessionFactory,
    client: Client,
    business_id: int,
    values: dict[str, Any],
    *,
    idempotency_key: str | None,
    after_commit: AfterCommit | None = None,
) -> tuple[Appointment, bool]:
    """Commit the booking, then make sure its workflow runs. Returns the appointment and whether it is new."""
    async with sessions() as session:
        booking = await store.book(
            session,
            business_id,
            values,
            idempotency_key=idempotency_key,
            body_hash=store.request_hash(values),
        )
    if after_commit is not None:
        after_commit(booking.appointment)  # fault injection in tests: "the process dies here"
    await ensure_workflow(client, booking.snapshot)
    return booking.appointment, booking.created


class SteeringRejected(Exception):
    """The workflow (or Temporal) said no; ``status`` is the HTTP status that explains it best."""

    def __init__(self, status: int, message: str, *, ended: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.ended = ended


async def steer(
    client: Client, appointment_id: int, update: Any, arg: Any, *, wait: timedelta | None = None
) -> AppointmentView:
    """Run one of the workflow's updates and return the new state, or raise SteeringRejected
    (``WorkflowUpdateRPCTimeoutOrCancelledError`` when ``wait`` passes without an answer)."""
    handle = client.get_workflow_handle(appointment_workflow_id(appointment_id))
    try:
        result: AppointmentView = await handle.execute_update(
            update, arg, result_type=AppointmentView, rpc_timeout=wait
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == INVALID:
            raise SteeringRejected(422, cause.message) from exc
        raise SteeringRejected(409, getattr(cause, "message", None) or str(cause)) from exc
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise SteeringRejected(409, "this appointment's automation has ended", ended=True) from exc
        raise
    return result


async def current_state(client: Client, appointment_id: int) -> AppointmentView | None:
    """The workflow's ``state`` query, or None when its workflow is gone or not answering."""
    return await query_or_none(client, appointment_workflow_id(appointment_id), AppointmentWorkflow.state)


async def submit_review(
    sessions: SessionFactory, client: Client, appointment: Appointment, rating: int, text: str | None
) -> tuple[Business, bool]:
    """Store the review (AlreadyReviewed if a different one exists), then tell the workflow so it sends no
    review reminder (a repeat signals again, which changes nothing).

    Returns the business with its rating figures and whether the review is new."""
    async with sessions() as session:
        business, created = await store.add_review(session, appointment, rating, text)
    handle = client.get_workflow_handle(appointment_workflow_id(appointment.id))
    with contextlib.suppress(RPCError):  # a finished workflow needs no signal; the review is stored anyway
        await handle.signal(AppointmentWorkflow.review_submitted, ReviewSubmittedInput(rating=rating))
    return business, created


class CancelAccepted(Exception):
    """The cancel is recorded in the workflow's history but not yet written: the caller answers 202."""


async def cancel_and_wait(
    client: Client, appointment_id: int, request: CancelInput, *, wait_s: float = 10.0
) -> AppointmentView | None:
    """Cancel and wait (at most ``wait_s``) for the workflow's own answer.

    The ``cancel`` signal goes first: once it returns, the request is durable in the workflow's history,
    whatever happens next. The ``cancel_with_answer`` update then waits for the workflow to write it.
    Returns None when the workflow has ended (the row tells the outcome). Raises CancelAccepted when no
    answer came in time (or the workflow handed over to its next run first), SteeringRejected when the
    appointment can no longer be cancelled."""
    handle = client.get_workflow_handle_for(AppointmentWorkflow.run, appointment_workflow_id(appointment_id))
    try:
        await handle.signal(AppointmentWorkflow.cancel, request)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return None
    try:
        view = await steer(
            client,
            appointment_id,
            AppointmentWorkflow.cancel_with_answer,
            request,
            wait=timedelta(seconds=wait_s),
        )
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise CancelAccepted from None
    except SteeringRejected as exc:
        if exc.ended:  # cancelled and finished between the signal and the update
            return None
        raise
    if view.status in TRANSITIONS["cancel"].allowed_from:  # not written yet: carried into the next run
        raise CancelAccepted
    return view


class UpsertConflict(FieldConflict):
    """The appointment your id names cannot become what the body says (``field``: what differs)."""


class PastStart(ValueError):
    """A booking, or a move, to a slot that has begun (the same slot again is not a move)."""


def _future(values: dict[str, Any]) -> None:
    if values["starts_at"] <= datetime.now(UTC):
        raise PastStart("starts_at is in the past")


async def by_external_id(sessions: SessionFactory, business_id: int, external_id: str) -> Appointment | None:
    async with sessions() as session:
        return await store.by_external_id(session, business_id, external_id)


async def upsert_by_external_id(
    sessions: SessionFactory, client: Client, business_id: int, external_id: str, values: dict[str, Any]
) -> tuple[Appointment, str]:
    """Make the appointment your ``external_id`` names be as ``values`` say: ``created`` (booked: its
    workflow starts and its confirmation goes out once), ``unchanged`` (the same body again: nothing
    written, nothing sent), ``rescheduled`` (another slot: the workflow's reschedule, every timer moves) or
    ``updated`` (other metadata). Another customer, service or resource, or a slot of an appointment that is
    over, is an ``UpsertConflict``; the rest raises as booking and rescheduling do."""
    existing = await by_external_id(sessions, business_id, external_id)
    if existing is None:
        _future(values)
        try:
            appointment, _ = await book_appointment(
                sessions, client, business_id, {**values, "external_id": external_id}, idempotency_key=None
            )
            return appointment, "created"
        except store.ExternalIdTaken:  # another upsert with this id committed first: continue with its row
            existing = await by_external_id(sessions, business_id, external_id)
            assert existing is not None
    for name in ("customer_id", "service", "resource"):
        if getattr(existing, name) != values.get(name):
            raise UpsertConflict(name, f"the appointment {external_id!r} has another {name}: book a new one")
    async with sessions() as session:
        snapshot = await store.appointment_snapshot(session, existing)
    await ensure_workflow(client, snapshot)  # a booking whose start was lost gets its workflow now
    outcome = "unchanged"
    if (existing.starts_at, existing.ends_at) != (values["starts_at"], values["ends_at"]):
        if existing.status.value not in RESCHEDULABLE:
            raise UpsertConflict("starts_at", f"the appointment is {existing.status.value}: it cannot move")
        _future(values)
        async with sessions() as session:
            await store.refuse_overlap_on_reschedule(
                session, existing, values["starts_at"], values["ends_at"]
            )
        change = RescheduleInput(starts_at=values["starts_at"], ends_at=values["ends_at"])
        await steer(client, existing.id, AppointmentWorkflow.reschedule, change)
        outcome = "rescheduled"
    if existing.meta != values.get("metadata"):
        async with sessions() as session:
            await store.set_metadata(session, existing.id, values.get("metadata"))
        outcome = "updated" if outcome == "unchanged" else outcome
    async with sessions() as session:
        current = await store.appointment_of(session, business_id, existing.id)
    assert current is not None
    return current, outcome
