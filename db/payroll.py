"""Employees, time entries and weekly payroll periods: exactly one period per company and week (UNIQUE),
an explicit recalculation that is audited, approval that freezes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.conflicts import FieldConflict
from db.idempotency import create_once, request_hash
from db.models import Business, Employee, PayrollPeriod, PayrollRecalculation, StaffUser, TimeEntry
from db.repeats import body_digest, same_request
from domain.payroll import pay_cents
from domain.statuses import PayrollStatus, StaffRole


class PayrollConflict(FieldConflict):
    """Raised by this module's changes (``field`` names the input at fault)."""


class UnknownReviewer(FieldConflict):
    """The approval names a staff user the company does not have (bad input, not a conflict)."""


async def add_employee(
    session: AsyncSession, business_id: int, values: dict[str, Any], *, key: str | None
) -> tuple[Employee, bool]:
    """A new employee, or the one this Idempotency-Key made (False). Commits."""

    async def create() -> Employee:
        employee = Employee(business_id=business_id, **values)
        session.add(employee)
        return employee

    return await create_once(
        session,
        business_id,
        key,
        request_hash("POST /v1/employees", values),
        create,
        lambda employee_id: session.get(Employee, employee_id),
        lambda employee: employee.id,
    )


async def employee_of(session: AsyncSession, business_id: int, employee_id: int) -> Employee | None:
    employee = await session.get(Employee, employee_id)
    return employee if employee is not None and employee.business_id == business_id else None


async def set_rate(
    session: AsyncSession, business_id: int, employee_id: int, rate_cents: int
) -> Employee | None:
    """A new hourly rate: periods already computed keep the rate they snapshotted."""
    async with session.begin():
        employee = await employee_of(session, business_id, employee_id)
        if employee is not None:
            employee.hourly_rate_cents = rate_cents
    return employee


@dataclass(frozen=True)
class Logged:
    entry: TimeEntry
    created: bool


async def log_time(session: AsyncSession, employee: Employee, values: dict[str, Any]) -> Logged:
    """Log minutes (a repeat of the reference logs nothing; another body under it is a conflict). Commits."""
    async with session.begin():
        inserted = await session.execute(
            insert(TimeEntry)
            .values(
                business_id=employee.business_id,
                employee_id=employee.id,
                created_from=body_digest(values),
                **values,
            )
            .on_conflict_do_nothing(index_elements=["employee_id", "reference"])
            .returning(TimeEntry.id)
        )
        new_id = inserted.scalar()
        entry = (
            await session.execute(
                select(TimeEntry).where(
                    TimeEntry.employee_id == employee.id, TimeEntry.reference == values["reference"]
                )
            )
        ).scalar_one()
        unchanged = (entry.work_date, entry.minutes) == (values["work_date"], values["minutes"])
        if new_id is None and not same_request(entry.created_from, values, unchanged=unchanged):
            raise PayrollConflict("reference", "another time entry has this reference")
    return Logged(entry, new_id is not None)


async def _lines(
    session: AsyncSession, business_id: int, week_start: date
) -> tuple[list[dict[str, Any]], int]:
    """Time entries of the week aggregated per employee, each at the employee's current rate."""
    rows = await session.execute(
        select(Employee.id, Employee.name, Employee.hourly_rate_cents, func.sum(TimeEntry.minutes))
        .join(TimeEntry, TimeEntry.employee_id == Employee.id)
        .where(
            Employee.business_id == business_id,
            TimeEntry.work_date >= week_start,
            TimeEntry.work_date < week_start + timedelta(days=7),
        )
        .group_by(Employee.id)
        .order_by(Employee.id)
    )
    lines: list[dict[str, Any]] = []
    total = 0
    for employee_id, name, rate, minutes in rows.all():
        pay = pay_cents(int(minutes), rate)
        total += pay
        lines.append(
            {
                "employee_id": employee_id,
                "name": name,
                "minutes": int(minutes),
                "hourly_rate_cents": rate,
                "pay_cents": pay,
            }
        )
    return lines, total


async def ensure_period(
    session: AsyncSession, business_id: int, week_start: date, now: datetime
) -> tuple[PayrollPeriod, bool]:
    """The week's period, created pending if it does not exist (a second trigger finds it). Commits."""
    async with session.begin():
        lines, total = await _lines(session, business_id, week_start)
        inserted = await session.execute(
            insert(PayrollPeriod)
            .values(
                business_id=business_id,
                week_start=week_start,
                total_cents=total,
                lines=lines,
                computed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["business_id", "week_start"])
            .returning(PayrollPeriod.id)
        )
        created = inserted.scalar() is not None
        period = (
            await session.execute(
                select(PayrollPeriod).where(
                    PayrollPeriod.business_id == business_id, PayrollPeriod.week_start == week_start
                )
            )
        ).scalar_one()
    return period, created


async def latest_week(session: AsyncSession, business_id: int) -> date | None:
    """The Monday of the company's latest payroll period (None: it has none)."""
    latest = await session.scalar(
        select(func.max(PayrollPeriod.week_start)).where(PayrollPeriod.business_id == business_id)
    )
    return latest if isinstance(latest, date) else None


async def period_of(
    session: AsyncSession, business_id: int, period_id: int, *, lock: bool = False
) -> PayrollPeriod | None:
    query = select(PayrollPeriod).where(
        PayrollPeriod.id == period_id, PayrollPeriod.business_id == business_id
    )
    return (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()


async def recalculate(
    session: AsyncSession, business_id: int, period_id: int, reason: str, now: datetime
) -> PayrollPeriod | None:
    """Compute a pending period again (a late time entry, a corrected rate), audited with the reason and
    the totals before and after. Commits; None: no such period."""
    async with session.begin():
        period = await period_of(session, business_id, period_id, lock=True)
        if period is None:
            return None
        if period.status != PayrollStatus.PENDING:
            raise PayrollConflict("status", "the period is approved")
        lines, total = await _lines(session, business_id, period.week_start)
        period.revision += 1
        session.add(
            PayrollRecalculation(
                period_id=period.id,
                revision=period.revision,
                reason=reason,
                total_before_cents=period.total_cents,
                total_after_cents=total,
                at=now,
            )
        )
        period.lines, period.total_cents, period.computed_at = lines, total, now
    return period


APPROVERS = (StaffRole.ADMIN, StaffRole.ACCOUNTING)


async def approve(
    session: AsyncSession, business_id: int, period_id: int, approved_by: int, now: datetime
) -> PayrollPeriod | None:
    """Approve a pending period as the staff user ``approved_by`` (an admin or accounting of the company;
    ``PayrollConflict`` otherwise). A repeat changes nothing: the first approver stays. Commits; None: no
    such period."""
    async with session.begin():
        period = await period_of(session, business_id, period_id, lock=True)
        if period is None or period.status != PayrollStatus.PENDING:
            return period
        reviewer = await session.get(StaffUser, approved_by)
        if reviewer is None or reviewer.business_id != business_id:
            raise UnknownReviewer("approved_by", "no such staff user in this company")
        if not set(reviewer.roles) & set(APPROVERS):
            raise PayrollConflict("approved_by", "only an admin or accounting may approve payroll")
        period.status, period.approved_at, period.approved_by = PayrollStatus.APPROVED, now, reviewer.id
    return period


async def periods(session: AsyncSession, business_id: int) -> list[PayrollPeriod]:
    rows = await session.execute(
        select(PayrollPeriod)
        .where(PayrollPeriod.business_id == business_id)
        .order_by(PayrollPeriod.week_start.desc())
    )
    return list(rows.scalars())


async def recalculations(session: AsyncSession, period_id: int) -> list[PayrollRecalculation]:
    rows = await session.execute(
        select(PayrollRecalculation)
        .where(PayrollRecalculation.period_id == period_id)
        .order_by(PayrollRecalculation.revision)
    )
    return list(rows.scalars())


async def businesses_with_employees(session: AsyncSession) -> list[tuple[int, str]]:
    """(business id, time zone) of every company with employees: the weekly job's list."""
    rows = await session.execute(
        select(Business.id, Business.time_zone)
        .where(select(Employee.id).where(Employee.business_id == Business.id).exists())
        .order_by(Business.id)
    )
    return [(business_id, zone) for business_id, zone in rows.all()]
