"""InvoiceWorkflow on the v2 time-skipping server with the real activities and PostgreSQL: overdue at the
first instant after the due date in the company's zone, admins and accounting told once per moment,
escalations on the ladder, payment and new due dates steering it, DST weeks."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from db import daily_plans, tenants
from db import invoices as store
from db.engine import SessionFactory
from db.models import Invoice
from domain.ids import daily_plan_workflow_id, invoice_workflow_id
from domain.invoice_timeline import day_start, days_overdue, invoice_moments, overdue_at
from domain.invoice_types import InvoiceInput, InvoiceMomentInput
from domain.rollout_types import SettingsChanged
from domain.task_queues import MAINTENANCE
from keeptime.settings import Settings
from services import invoices
from services.daily_plans import create_daily_plan
from services.settings import rollout_progress, update_business
from tests.appointment_support import eventually
from tests.invoice_support import InvoiceHandle, company, invoice, notifications, view
from tests.support import began_new_run, running_worker
from workflows.daily_plan import DailyPlanWorkflow
from workflows.invoice import InvoiceWorkflow

BERLIN = ZoneInfo("Europe/Berlin")
# The default ladder taken in full, both admin and accountant told each time
ESCALATED_ON_THE_LADDER = [
    "overdue: 2 notified",
    "7 days overdue: 2 notified",
    "14 days overdue: 2 notified",
    "30 days overdue: 2 notified",
]


def _today(zone: ZoneInfo = BERLIN) -> date:
    return datetime.now(UTC).astimezone(zone).date()


def test_overdue_is_the_first_local_instant_after_the_due_date_across_dst() -> None:
    # Berlin springs forward on Sunday 28 March 2027: the week's moments keep local midnight.
    moments = invoice_moments(date(2027, 3, 25), [7, 14, 30], BERLIN)
    assert [(m.kind, m.days_overdue) for m in moments] == [
        ("overdue", 1),
        ("escalation", 7),
        ("escalation", 14),
        ("escalation", 30),
    ]
    assert moments[0].at == datetime(2027, 3, 25, 23, 0, tzinfo=UTC)  # 00:00 CET on the 26th
    assert moments[1].at == datetime(2027, 3, 31, 22, 0, tzinfo=UTC)  # 00:00 CEST on 1 April
    # ... and back in autumn (31 October 2027)
    assert overdue_at(date(2027, 10, 30), BERLIN) == datetime(2027, 10, 30, 22, 0, tzinfo=UTC)
    assert overdue_at(date(2027, 10, 31), BERLIN) == datetime(2027, 10, 31, 23, 0, tzinfo=UTC)


def test_a_midnight_that_dst_skips_lands_after_the_gap() -> None:
    # Chile springs forward at 24:00 on Saturday 5 September 2026: Sunday starts at 01:00.
    santiago = ZoneInfo("America/Santiago")
    start = day_start(date(2026, 9, 6), santiago)
    assert start.astimezone(santiago).hour == 1
    assert start == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)


def test_days_overdue_counts_local_days_past_the_due_date() -> None:
    due = date(2027, 3, 25)
    assert days_overdue(due, datetime(2027, 3, 25, 22, 59, tzinfo=UTC), BERLIN) == 0  # 23:59 on the 25th
    assert days_overdue(due, datetime(2027, 3, 25, 23, 0, tzinfo=UTC), BERLIN) == 1  # 00:00 on the 26th
    assert days_overdue(due, datetime(2027, 3, 31, 21, 59, tzinfo=UTC), BERLIN) == 6
    assert days_overdue(due, datetime(2027, 3, 31, 22, 0, tzinfo=UTC), BERLIN) == 7  # DST between
    assert days_overdue(due, datetime(2027, 1, 1, tzinfo=UTC), BERLIN) == 0


def test_a_ladder_day_of_one_is_the_overdue_notice_itself() -> None:
    assert [m.days_overdue for m in invoice_moments(date(2027, 1, 1), [1, 3], BERLIN)] == [1, 3]


async def test_an_unpaid_invoice_goes_overdue_escalates_on_the_ladder_and_ends_when_paid(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    business_id, users = await company(sessions)
    due = _today() + timedelta(days=3)
    async with running_worker(skipping_env.client, sessions, settings):
        row, handle = await invoice(sessions, skipping_env.client, business_id, due)
        await eventually(
            lambda: _history_has(handle, "30 days overdue: 2 notified"), what="the last escalation"
        )
        assert (await view(handle)).next_action is None  # nothing left but waiting for a payment
        paid = await invoices.pay(sessions, skipping_env.client, business_id, row.id)
        assert paid is not None
        final = await asyncio.wait_for(handle.result(), 30)
    assert final.status == "paid"
    assert final.history == ESCALATED_ON_THE_LADDER
    told = await notifications(sessions, row.id)
    for user in ("ana", "carl"):
        assert [event for who, event, _ in told if who == users[user]] == [
            "invoice.overdue",
            "invoice.overdue_7d",
            "invoice.overdue_14d",
            "invoice.overdue_30d",
        ]
    assert all(who != users["pia"] for who, _, _ in told)  # a PM is not told of invoices
    async with sessions() as session:
        stored = await session.get(Invoice, row.id)
    assert stored is not None and stored.overdue_since == overdue_at(due, BERLIN)


async def test_an_invoice_paid_before_its_due_date_tells_nobody(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    business_id, _ = await company(sessions)
    async with running_worker(skipping_env.client, sessions, settings):
        with skipping_env.with_time_skipping_disabled():
            due = _today() + timedelta(days=5)
            row, handle = await invoice(sessions, skipping_env.client, business_id, due)
            await eventually(lambda: _next_is(handle, "overdue"), what="asleep until the due date")
            await invoices.pay(sessions, skipping_env.client, business_id, row.id)
            await invoices.pay(sessions, skipping_env.client, business_id, row.id)  # a repeat: no change
            final = await asyncio.wait_for(handle.result(), 30)
    assert final.status == "paid" and final.history == []
    assert await notifications(sessions, row.id) == []


async def test_a_new_due_date_makes_an_overdue_invoice_sent_again_with_a_new_timeline(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    business_id, users = await company(sessions)
    first_due = _today() + timedelta(days=2)
    async with running_worker(skipping_env.client, sessions, settings):
        with skipping_env.with_time_skipping_disabled():
            row, handle = await invoice(sessions, skipping_env.client, business_id, first_due)
            await eventually(lambda: _next_is(handle, "overdue"), what="asleep until the due date")
        await skipping_env.fast_forward(handle, timedelta(days=4))  # started with skipping off: by hand
        await eventually(lambda: _history_has(handle, "overdue: 2 notified"), what="overdue")
        new_due = _today() + timedelta(days=20)
        moved = await invoices.move_due_date(sessions, skipping_env.client, business_id, row.id, new_due)
        assert moved is not None and moved.status.value == "sent" and moved.overdue_since is None
        await eventually(lambda: _status_is(handle, "sent"), what="the workflow re-read the row")
        state = await view(handle)
        assert (state.next_action, state.next_action_at) == ("overdue", overdue_at(new_due, BERLIN))
        await invoices.pay(sessions, skipping_env.client, business_id, row.id)
        final = await asyncio.wait_for(handle.result(), 30)
    assert final.history == ["overdue: 2 notified"]  # the old due date's 7-day escalation never came
    assert [event for who, event, _ in await notifications(sessions, row.id) if who == users["ana"]] == [
        "invoice.overdue"
    ]


async def test_a_moment_after_payment_does_nothing_and_a_repeated_moment_tells_nobody_twice(
    sessions: SessionFactory,
) -> None:
    """The moment's transaction, run directly: what a payment in the same minute, or a retried activity,
    meets under the row's lock."""
    business_id, _ = await company(sessions)
    due = date(2027, 3, 25)
    async with sessions() as session:
        created = await store.create(
            session,
            business_id,
            {"number": "R-1", "amount_cents": 5_000, "currency": "EUR", "due_on": due},
        )
    moment = InvoiceMomentInput(
        invoice_id=created.invoice.id,
        business_id=business_id,
        kind="escalation",
        days_overdue=7,
        at=datetime(2027, 3, 31, 22, 0, tzinfo=UTC),
        due_on=due,
    )
    async with sessions() as session:
        first = await store.act_on_moment(session, moment)
    async with sessions() as session:
        repeat = await store.act_on_moment(session, moment)
    assert first is not None and first.acted and first.notified == 2
    assert repeat is not None and repeat.notified == 0  # the keys are claimed: a retry tells nobody again
    async with sessions() as session:
        await store.pay(session, business_id, created.invoice.id, datetime(2027, 4, 1, tzinfo=UTC))
    async with sessions() as session:
        after = await store.act_on_moment(session, moment.model_copy(update={"days_overdue": 14}))
    assert after is not None and (after.acted, after.reason, after.notified) == (False, "paid", 0)
    async with sessions() as session:
        moved = await store.act_on_moment(session, moment.model_copy(update={"due_on": date(2027, 4, 2)}))
    assert moved is not None and moved.reason == "paid"


async def test_the_ladder_crosses_a_dst_change_at_local_midnight(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    """An invoice due the Thursday before Berlin springs forward: its 7-day escalation is at 00:00 CEST."""
    business_id, users = await company(sessions, automation={"invoice_escalation_days": [7]})
    due = _next_spring_thursday()
    async with running_worker(skipping_env.client, sessions, settings):
        row, handle = await invoice(sessions, skipping_env.client, business_id, due)
        await eventually(lambda: _history_has(handle, "7 days overdue: 2 notified"), what="the escalation")
    keys = [key for who, _, key in await notifications(sessions, row.id) if who == users["ana"]]
    moments = invoice_moments(due, [7], BERLIN)
    assert moments[0].at.astimezone(BERLIN).utcoffset() != moments[1].at.astimezone(BERLIN).utcoffset()
    assert keys == [
        f"invoice:{row.id}:invoice.overdue:{moments[0].at.isoformat()}:user:{users['ana']}",
        f"invoice:{row.id}:invoice.overdue_7d:{moments[1].at.isoformat()}:user:{users['ana']}",
    ]
    assert moments[1].at.astimezone(BERLIN).hour == 0


def _next_spring_thursday() -> date:
    """The Thursday before the last Sunday of March (Berlin's spring change), next year at the latest."""
    year = _today().year + 1
    last_sunday = max(date(year, 3, d) for d in range(25, 32) if date(year, 3, d).weekday() == 6)
    return last_sunday - timedelta(days=3)


async def _history_has(handle: InvoiceHandle, line: str) -> bool:
    return line in (await view(handle)).history


async def _next_is(handle: InvoiceHandle, action: str) -> bool:
    return (await view(handle)).next_action == action


async def _status_is(handle: InvoiceHandle, status: str) -> bool:
    return (await view(handle)).status == status


async def test_a_settings_change_reaches_sleeping_invoices_and_daily_plans(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    business_id, _ = await company(sessions)
    due = _today() - timedelta(days=2)  # overdue two days: asleep until the 7-day escalation
    plan_day = _today() + timedelta(days=2)
    async with running_worker(skipping_env.client, sessions, settings):
        with skipping_env.with_time_skipping_disabled():
            _, handle = await invoice(sessions, skipping_env.client, business_id, due)
            async with sessions() as session:
                project, _ = await daily_plans.add_project(session, business_id, {"name": "Site"}, key=None)
            plan, _ = await create_daily_plan(
                sessions, skipping_env.client, business_id, project.id, plan_day
            )
        plan_handle = skipping_env.client.get_workflow_handle_for(
            DailyPlanWorkflow.run, daily_plan_workflow_id(plan.id)
        )
        await eventually(lambda: _next_is(handle, "7 days overdue"), what="the 7-day escalation planned")
        automation = {"invoice_escalation_days": [4, 10], "daily_plan_deadline": "12:00"}
        _, rollout = await update_business(
            sessions, skipping_env.client, business_id, {"automation": automation}
        )
        assert rollout is not None
        await eventually(lambda: _next_is(handle, "4 days overdue"), what="the new ladder planned")
        assert (await view(handle)).next_action_at == day_start(due + timedelta(days=4), BERLIN)

        async def new_deadline() -> bool:
            state = await plan_handle.query(DailyPlanWorkflow.state)
            return state.deadline == datetime.combine(plan_day, time(12, 0), tzinfo=BERLIN).astimezone(UTC)

        await eventually(new_deadline, what="the daily plan's new deadline")
        progress = await rollout_progress(skipping_env.client, business_id, rollout.revision)
        assert progress is not None
        told = {kind.kind: kind.signalled for kind in progress.kinds}
        assert told["invoice"] == 1 and told["daily_plan"] == 1


async def test_an_invoice_that_hears_many_changes_continues_as_new_and_escalates_once(
    skipping_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    """Open for months and told of every settings change: past its history limit the workflow continues as
    new with what it knows, and every moment is still taken exactly once."""
    env = skipping_env
    business_id, users = await company(sessions)
    due = _today() + timedelta(days=3)
    async with sessions() as session:
        created = await store.create(
            session,
            business_id,
            {"number": "R-CAN", "amount_cents": 125_000, "currency": "EUR", "due_on": due},
        )
    row = created.invoice
    async with running_worker(env.client, sessions, settings):
        with env.with_time_skipping_disabled():
            handle = await env.client.start_workflow(
                InvoiceWorkflow.run,
                InvoiceInput(
                    invoice_id=row.id,
                    business_id=business_id,
                    snapshot=created.snapshot,
                    continue_as_new_after_events=20,
                ),
                id=invoice_workflow_id(row.id),
                task_queue=MAINTENANCE,
            )
            await env.fast_forward(handle, timedelta(days=12))  # overdue, and 7 days overdue
            await eventually(lambda: _history_has(handle, "7 days overdue: 2 notified"), what="7 days")
            for revision in range(1, 11):
                async with sessions() as session:
                    await tenants.bump_settings_revision(session, business_id)
                    await session.commit()
                await handle.signal(InvoiceWorkflow.settings_changed, SettingsChanged(revision=revision))
                await asyncio.sleep(0.2)

            await eventually(
                lambda: began_new_run(handle, handle.result_run_id, InvoiceWorkflow.state),
                what="a continue-as-new",
            )
            await env.fast_forward(handle, timedelta(days=30))

            async def escalated_30d() -> bool:
                try:
                    return await _history_has(handle, "30 days overdue: 2 notified")
                except RPCError:  # "Workflow task is not scheduled yet": the new run has not begun
                    return False

            await eventually(escalated_30d, what="30 days")
        paid = await invoices.pay(sessions, env.client, business_id, row.id)
        assert paid is not None
        final = await asyncio.wait_for(handle.result(), 30)
    assert final.status == "paid"
    assert final.history == ESCALATED_ON_THE_LADDER
    told = await notifications(sessions, row.id)
    assert sorted(event for who, event, _ in told if who == users["ana"]) == [
        "invoice.overdue",
        "invoice.overdue_14d",
        "invoice.overdue_30d",
        "invoice.overdue_7d",
    ]
