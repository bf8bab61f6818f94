"""Appointments: book (idempotent), read with the workflow's state and timeline, list, steer, review."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from api.auth import require_business
from api.businesses import path_external_id, path_id
from api.errors import (
    ApiError,
    conflict_error,
    cursor_error,
    field_error,
    inconsistent_error,
    missing_reference,
    parse_json_body,
)
from api.fees import fee_json
from api.idempotency import idempotency_key
from api.keys import SESSIONS, TEMPORAL
from api.openapi import Handler, RouteTable
from api.queries import AppointmentListQuery, parse_query
from api.resources import AppointmentDetail, AppointmentList, AppointmentOut, AppointmentUpserted, ReviewOut
from api.schemas import AppointmentCreate, AppointmentUpsert, CancelBody, Reschedule, ReviewBody
from api.serializers import appointment_json, notification_json, rating_json
from db import appointments as store
from db import notification_queries
from db.models import Appointment
from domain.appointment_types import TRANSITIONS, AppointmentView, CancelInput, RescheduleInput, StepInput
from domain.pages import BadCursor
from domain.statuses import AppointmentStatus
from services import fees
from services.appointments import (
    CancelAccepted,
    PastStart,
    SteeringRejected,
    UpsertConflict,
    book_appointment,
    by_external_id,
    cancel_and_wait,
    current_state,
    steer,
    submit_review,
    upsert_by_external_id,
)
from workflows.appointment import AppointmentWorkflow

routes = RouteTable("appointments")


@routes.post(
    "/v1/appointments",
    "Book an appointment and start its workflow; send Idempotency-Key to make retries safe",
    ok={"201": "booked", "200": "the booking this Idempotency-Key made"},
    errors={"404": "no such customer (customer_id)", "409": "the resource is booked then (starts_at)"},
    body=AppointmentCreate,
    result=AppointmentOut,
)
async def create(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, AppointmentCreate)
    if body.starts_at <= datetime.now(UTC):
        raise inconsistent_error("starts_at", "starts_at is in the past")
    key = idempotency_key(request)
    try:  # the customer is checked inside the booking's transaction (db.appointments.book)
        appointment, created = await book_appointment(
            request.app[SESSIONS], request.app[TEMPORAL], business_id, body.model_dump(), idempotency_key=key
        )
    except store.BookingConflict as exc:
        raise booking_error(exc) from exc
    return web.json_response(appointment_json(appointment), status=201 if created else 200)


_BY_EXTERNAL_ID = "/v1/appointments/by-external-id/{external_id}"


@routes.put(
    _BY_EXTERNAL_ID,
    "Make the appointment your id names be this (idempotent): books it the first time, changes nothing "
    "for the same body, reschedules it for another slot",
    ok={"201": "booked", "200": "as it is now: unchanged, rescheduled or its metadata updated"},
    errors={
        "404": "no such customer (customer_id)",
        "409": "another customer, service or resource than it has; a slot of an appointment that is over; "
        "the resource is booked then",
    },
    body=AppointmentUpsert,
    result=AppointmentUpserted,
)
async def upsert(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    external_id = path_external_id(request, "appointment")
    body = await parse_json_body(request, AppointmentUpsert)
    try:
        appointment, outcome = await upsert_by_external_id(
            request.app[SESSIONS], request.app[TEMPORAL], business_id, external_id, body.model_dump()
        )
    except store.BookingConflict as exc:
        raise booking_error(exc) from exc
    except UpsertConflict as exc:
        raise conflict_error(exc) from exc
    except SteeringRejected as exc:
        raise ApiError(exc.status, "conflict" if exc.status == 409 else "validation_error", str(exc)) from exc
    except PastStart as exc:
        raise inconsistent_error("starts_at", str(exc)) from exc
    answer = appointment_json(appointment)
    return web.json_response({**answer, "outcome": outcome}, status=201 if outcome == "created" else 200)


@routes.get(
    _BY_EXTERNAL_ID, "The appointment your id names", ok={"200": "appointment"}, result=AppointmentOut
)
async def get_by_external_id(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    appointment = await by_external_id(
        request.app[SESSIONS], business_id, path_external_id(request, "appointment")
    )
    if appointment is None:
        raise ApiError(404, "not_found", "no such appointment")
    return web.json_response(appointment_json(appointment))


def booking_error(exc: store.BookingConflict) -> ApiError:
    """An unknown customer is a 404 naming ``customer_id``, a taken slot a 409; an Idempotency-Key reused
    with another body a 422 (draft-ietf-httpapi-idempotency-key-header, sec. 2.7)."""
    if isinstance(exc, store.UnknownCustomer):
        return missing_reference(exc.field, str(exc))
    if isinstance(exc, store.SlotTaken | store.ExternalIdTaken):
        return conflict_error(exc)
    return field_error(exc.field, str(exc))


async def _owned(request: web.Request) -> tuple[int, Appointment]:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        appointment = await store.appointment_of(session, business_id, path_id(request, "appointment_id"))
    if appointment is None:
        raise ApiError(404, "not_found", "no such appointment")
    return business_id, appointment


@routes.get(
    "/v1/appointments/{appointment_id}",
    "The row, the workflow's state (next action and when) and the notification timeline",
    ok={"200": "appointment"},
    result=AppointmentDetail,
)
async def get(request: web.Request) -> web.Response:
    business_id, appointment = await _owned(request)
    view = await current_state(request.app[TEMPORAL], appointment.id)
    async with request.app[SESSIONS]() as session:
        timeline = await notification_queries.timeline(
            session, business_id, entity_type="appointment", entity_id=appointment.id, limit=200
        )
    return web.json_response(
        {
            **appointment_json(appointment),
            "workflow": view.model_dump(mode="json", exclude={"messages"}) if view else None,
            "notifications": [notification_json(row) for row in timeline],
            "fees": [
                fee_json(fee)
                for fee in await fees.of_appointment(request.app[SESSIONS], business_id, appointment.id)
            ],
        }
    )


@routes.get(
    "/v1/appointments",
    "Appointments by start time (?status=&from=&to=&customer_id=&external_id=&limit=), or by their last "
    "change (?updated_after=); page on with ?after=<next_cursor>",
    ok={"200": "items"},
    result=AppointmentList,
    query=AppointmentListQuery,
)
async def list_(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    query = parse_query(request, AppointmentListQuery)
    try:
        async with request.app[SESSIONS]() as session:
            rows, next_cursor = await store.list_appointments(
                session,
                business_id,
                status=query.status.value if query.status else None,
                starts_from=query.starts_from,
                starts_before=query.starts_before,
                customer_id=query.customer_id,
                limit=query.limit,
                external_id=query.external_id,
                updated_after=query.updated_after,
                after=query.after,
            )
    except BadCursor as exc:
        raise cursor_error(exc) from exc
    return web.json_response({"items": [appointment_json(row) for row in rows], "next_cursor": next_cursor})


async def _steer(request: web.Request, appointment: Appointment, update: Any, arg: BaseModel) -> web.Response:
    try:
        view = await steer(request.app[TEMPORAL], appointment.id, update, arg)
    except SteeringRejected as exc:
        raise ApiError(exc.status, "conflict" if exc.status == 409 else "validation_error", str(exc)) from exc
    return web.json_response(view.model_dump(mode="json"))


def _step(verb: str, summary: str, **options: Any) -> Callable[[Handler], Handler]:
    """A steering route: ``POST /v1/appointments/{id}/<verb>``, answered with the new state (a repeat with
    the current one), 409 when the status does not allow it."""
    return routes.post(
        f"/v1/appointments/{{appointment_id}}/{verb}",
        summary,
        ok={"200": "the new state (a repeat: the current state, nothing written or sent)"},
        errors={"409": "not possible in this status"},
        result=AppointmentView,
        **options,
    )


@_step("confirm", "Confirm a pending appointment (update `confirm`)")
async def confirm(request: web.Request) -> web.Response:
    _, appointment = await _owned(request)
    return await _steer(request, appointment, AppointmentWorkflow.confirm, StepInput(by="api"))


@_step("check-in", "Check the customer in (update `check_in`)")
async def check_in(request: web.Request) -> web.Response:
    _, appointment = await _owned(request)
    return await _steer(request, appointment, AppointmentWorkflow.check_in, StepInput(by="api"))


@_step("complete", "Complete now (update `complete`)")
async def complete(request: web.Request) -> web.Response:
    _, appointment = await _owned(request)
    return await _steer(request, appointment, AppointmentWorkflow.complete, StepInput(by="api"))


@_step("no-show", "Mark as no-show after its start (update `mark_no_show`)")
async def no_show(request: web.Request) -> web.Response:
    _, appointment = await _owned(request)
    return await _steer(request, appointment, AppointmentWorkflow.mark_no_show, StepInput(by="api"))


@_step(
    "reschedule",
    "Move it (update `reschedule`): every pending timer moves, the version goes up; the slot it has: no-op",
    body=Reschedule,
)
async def reschedule(request: web.Request) -> web.Response:
    _, appointment = await _owned(request)
    body = await parse_json_body(request, Reschedule)
    same_slot = body.starts_at == appointment.starts_at and body.ends_at == appointment.ends_at
    if not same_slot and body.starts_at <= datetime.now(UTC):
        raise inconsistent_error("starts_at", "starts_at is in the past")
    async with request.app[SESSIONS]() as session:
        try:
            await store.refuse_overlap_on_reschedule(session, appointment, body.starts_at, body.ends_at)
        except store.BookingConflict as exc:
            raise booking_error(exc) from exc
    change = RescheduleInput(starts_at=body.starts_at, ends_at=body.ends_at)
    return await _steer(request, appointment, AppointmentWorkflow.reschedule, change)


@routes.post(
    "/v1/appointments/{appointment_id}/cancel",
    "Cancel it (signal `cancel`, then update `cancel_with_answer`); a repeat answers the same",
    ok={"200": "the new state", "202": "recorded, not yet written: read the appointment at Location"},
    errors={"409": "not cancellable"},
    body=CancelBody,
    result=AppointmentView,
)
async def cancel(request: web.Request) -> web.Response:
    """200 with the state once cancelled (a repeat answers the same), 202 when the cancel is recorded but
    not yet written, 409 when the appointment is past cancelling."""
    _, appointment = await _owned(request)
    body = await parse_json_body(request, CancelBody)
    if not TRANSITIONS["cancel"].accepts(appointment.status):
        raise _not_cancellable(appointment.status)
    try:
        view = await cancel_and_wait(
            request.app[TEMPORAL], appointment.id, CancelInput(reason=body.reason, by=body.by)
        )
    except CancelAccepted:
        location = f"/v1/appointments/{appointment.id}"
        return web.json_response(
            {
                "status": "cancel_requested",
                "message": "the cancel is recorded and will be applied; read the appointment to see it",
                "location": location,
            },
            status=202,
            headers={"Location": location},
        )
    except SteeringRejected as exc:
        raise ApiError(exc.status, "conflict", str(exc)) from exc
    if view is None:  # the workflow has ended: the row has the outcome
        _, appointment = await _owned(request)
        if appointment.status != AppointmentStatus.CANCELLED:
            raise _not_cancellable(appointment.status)
        view = AppointmentView(
            appointment_id=appointment.id,
            status="cancelled",
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            version=appointment.version,
            next_action=None,
            messages=[],
        )
    if view.status != "cancelled":
        raise _not_cancellable(view.status)
    return web.json_response(view.model_dump(mode="json"))


def _not_cancellable(status: str) -> ApiError:
    return ApiError(409, "conflict", f"cannot cancel: the appointment is {status}")


@routes.post(
    "/v1/appointments/{appointment_id}/review",
    "Record a review (1-5 stars) of a completed appointment; returns the business's new rating",
    ok={"201": "rating statistics", "200": "the same review again: the figures, nothing added"},
    errors={"409": "not completed, or reviewed differently"},
    body=ReviewBody,
    result=ReviewOut,
)
async def review(request: web.Request) -> web.Response:
    _, appointment = await _owned(request)
    body = await parse_json_body(request, ReviewBody)
    if appointment.status != AppointmentStatus.COMPLETED:
        raise ApiError(
            409,
            "conflict",
            f"only completed appointments can be reviewed; this one is {appointment.status.value}",
        )
    try:
        business, created = await submit_review(
            request.app[SESSIONS], request.app[TEMPORAL], appointment, body.rating, body.text
        )
    except store.AlreadyReviewed as exc:
        raise ApiError(409, "conflict", "this appointment has been reviewed already") from exc
    answer = {"appointment_id": appointment.id, "rating": rating_json(business)}
    return web.json_response(answer, status=201 if created else 200)
