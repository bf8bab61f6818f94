"""Employees, their rates and time entries, and the weekly payroll periods (list, approve, recalculate)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, conflict_error, parse_json_body
from api.keys import SESSIONS
from api.openapi import RouteTable
from api.schemas import EmployeeCreate, EmployeeRate, Recalculation, TimeEntryCreate
from db import payroll
from db.models import Employee, PayrollPeriod, TimeEntry

routes = RouteTable("payroll")


def _employee(employee: Employee) -> dict[str, Any]:
    return {"id": employee.id, "name": employee.name, "hourly_rate_cents": employee.hourly_rate_cents}


def _entry(entry: TimeEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "employee_id": entry.employee_id,
        "reference": entry.reference,
        "work_date": entry.work_date.isoformat(),
        "minutes": entry.minutes,
    }


def _period(period: PayrollPeriod) -> dict[str, Any]:
    return {
        "id": period.id,
        "week_start": period.week_start.isoformat(),
        "status": period.status.value,
        "total_cents": period.total_cents,
        "lines": period.lines,
        "revision": period.revision,
        "computed_at": period.computed_at.isoformat(),
        "approved_at": period.approved_at.isoformat() if period.approved_at else None,
    }


@routes.post(
    "/v1/employees", "Add an employee with an hourly rate", ok={"201": "employee"}, body=EmployeeCreate
)
async def add_employee(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, EmployeeCreate)
    async with request.app[SESSIONS]() as session:
        employee = await payroll.add_employee(session, business_id, body.model_dump())
    return web.json_response(_employee(employee), status=201)


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
    return web.json_response(_employee(employee))


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
    return web.json_response(_entry(logged.entry), status=201 if logged.created else 200)


@routes.get("/v1/payroll-periods", "The company's weekly payroll periods, newest first", ok={"200": "items"})
async def list_periods(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        rows = await payroll.periods(session, business_id)
    return web.json_response({"items": [_period(period) for period in rows]})


@routes.post(
    "/v1/payroll-periods/{period_id}/approve",
    "Approve a pending period (then it no longer changes; a repeat changes nothing)",
    ok={"200": "period"},
)
async def approve(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        period = await payroll.approve(session, business_id, path_id(request, "period_id"), datetime.now(UTC))
    if period is None:
        raise ApiError(404, "not_found", "no such payroll period")
    return web.json_response(_period(period))


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
    return web.json_response({**_period(period), "recalculations": recalculations})
