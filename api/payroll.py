"""Employees, their rates and time entries, and the weekly payroll periods (list, approve, recalculate)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, conflict_error, missing_reference, parse_json_body
from api.idempotency import idempotency_key
from api.keys import SESSIONS
from api.openapi import RouteTable
from api.resources import EmployeeOut
from api.schemas import Approval, EmployeeCreate, EmployeeRate, Recalculation, TimeEntryCreate
from api.serializers import employee_json, payroll_period_json, time_entry_json
from db import payroll
from db.conflicts import FieldConflict

routes = RouteTable("payroll")


@routes.post(
    "/v1/employees",
    "Add an employee with an hourly rate; send Idempotency-Key to make retries safe",
    ok={"201": "employee", "200": "the employee this Idempotency-Key made"},
    body=EmployeeCreate,
    result=EmployeeOut,
)
async def add_employee(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, EmployeeCreate)
    key = idempotency_key(request)
    try:
        async with request.app[SESSIONS]() as session:
            employee, created = await payroll.add_employee(session, business_id, body.model_dump(), key=key)
    except FieldConflict as exc:
        raise conflict_error(exc) from exc
    return web.json_response(employee_json(employee), status=201 if created else 200)


@routes.put(
    "/v1/employees/{employee_id}/rate",
    "Set the hourly rate (periods already computed keep the rate they snapshotted)",
    ok={"200": "employee"},
    body=EmployeeRate,
)
async def set_rate(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, EmployeeRate)
    async with request.app[SESSIONS]() as session:
        employee = await payroll.set_rate(
            session, business_id, path_id(request, "employee_id"), body.hourly_rate_cents
        )
    if employee is None:
        raise ApiError(404, "not_found", "no such employee")
    return web.json_response(employee_json(employee))


@routes.post(
    "/v1/employees/{employee_id}/time-entries",
    "Log minutes worked on a company-local day (a repeated reference logs once)",
    ok={"201": "logged", "200": "this reference logged it before"},
    errors={"409": "another time entry has this reference"},
    body=TimeEntryCreate,
)
async def log_time(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, TimeEntryCreate)
    async with request.app[SESSIONS]() as session:
        employee = await payroll.employee_of(session, business_id, path_id(request, "employee_id"))
    if employee is None:
        raise ApiError(404, "not_found", "no such employee")
    async with request.app[SESSIONS]() as session:
        try:
            logged = await payroll.log_time(session, employee, body.model_dump())
        except payroll.PayrollConflict as exc:
            raise conflict_error(exc) from exc
    return web.json_response(time_entry_json(logged.entry), status=201 if logged.created else 200)


@routes.get("/v1/payroll-periods", "The company's weekly payroll periods, newest first", ok={"200": "items"})
async def list_periods(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        rows = await payroll.periods(session, business_id)
    return web.json_response({"items": [payroll_period_json(period) for period in rows]})


@routes.post(
    "/v1/payroll-periods/{period_id}/approve",
    "Approve a pending period as a staff user (then it no longer changes; a repeat changes nothing)",
    ok={"200": "period, with who approved it"},
    errors={"409": "the staff user is neither an admin nor accounting"},
    body=Approval,
)
async def approve(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, Approval)
    period_id = path_id(request, "period_id")
    async with request.app[SESSIONS]() as session:
        try:
            period = await payroll.approve(
                session, business_id, period_id, body.approved_by, datetime.now(UTC)
            )
        except payroll.UnknownReviewer as exc:
            raise missing_reference(exc.field, str(exc)) from exc
        except payroll.PayrollConflict as exc:
            raise conflict_error(exc) from exc
    if period is None:
        raise ApiError(404, "not_found", "no such payroll period")
    return web.json_response(payroll_period_json(period))


@routes.post(
    "/v1/payroll-periods/{period_id}/recalculate",
    "Compute a pending period again (e.g. after a late time entry); audited with the reason and both totals",
    ok={"200": "period, with its recalculations"},
    errors={"409": "the period is approved"},
    body=Recalculation,
)
async def recalculate(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, Recalculation)
    period_id = path_id(request, "period_id")
    async with request.app[SESSIONS]() as session:
        try:
            period = await payroll.recalculate(
                session, business_id, period_id, body.reason, datetime.now(UTC)
            )
        except payroll.PayrollConflict as exc:
            raise conflict_error(exc) from exc
    if period is None:
        raise ApiError(404, "not_found", "no such payroll period")
    async with request.app[SESSIONS]() as session:
        audit = await payroll.recalculations(session, period.id)
    recalculations = [
        {
            "revision": r.revision,
            "reason": r.reason,
            "total_before_cents": r.total_before_cents,
            "total_after_cents": r.total_after_cents,
            "at": r.at.isoformat(),
        }
        for r in audit
    ]
    return web.json_response({**payroll_period_json(period), "recalculations": recalculations})
