"""No data can wedge a workflow: settings at the edges of their ranges, and rows that are bad anyway.

Property: for any settings the API accepts (each number drawn from its bounds and from inside them), and for
rows stored out of range (an older row, a manual SQL edit: offsets of 10^20 s, a fee of 10^30 cents, a locale
Babel does not know), the appointment's real workflow runs on the time-skipping server to its end with no
workflow task failure and no Failed workflow, PostgreSQL and the workflow agree, and a bad stored setting is
a failed step an operator sees in the timeline (``invalid_settings``), with the defaults applied."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.appointments import appointment_snapshot
from db.engine import SessionFactory
from db.models import Appointment
from domain.automation import AutomationSettings
from domain.limits import MAX_DELAY_S, MAX_FEE_CENTS, MAX_OFFSET_S
from keeptime.settings import Settings
from tests.appointment_support import log_of
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker, terminate_running
from tests.test_appointment_workflow import finished
from workflows.starts import ensure_workflow


def _edge(low: int, high: int) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from([low, high]), st.integers(low, high))


@st.composite
def valid_settings(draw: st.DrawFn) -> dict[str, Any]:
    offsets = draw(st.lists(_edge(2, MAX_OFFSET_S), min_size=1, max_size=10, unique=True))
    quiet = draw(
        st.sampled_from([(time(0, 0), time(0, 0)), (time(21, 0), time(8, 0)), (time(0, 0), time(23, 59))])
    )
    return AutomationSettings(
        reminder_offsets_s=offsets,
        reminder_cutoff_s=draw(_edge(0, min(offsets) - 1)),
        no_show_grace_s=draw(_edge(0, MAX_DELAY_S)),
        auto_complete_delay_s=draw(_edge(0, MAX_DELAY_S)),
        review_request_delay_s=draw(_edge(0, MAX_DELAY_S)),
        review_reminder_delay_s=draw(_edge(0, MAX_DELAY_S)),
        no_show_fee_cents=draw(_edge(0, MAX_FEE_CENTS)),
        no_show_reputation_penalty=draw(_edge(0, 100)),
        quiet_hours={"start": quiet[0], "end": quiet[1]},
        booking_mode=draw(st.sampled_from(["confirm_automatically", "require_confirmation"])),
    ).model_dump(mode="json")


BAD_ROWS: list[dict[str, Any]] = [
    {"reminder_offsets_s": [10**20]},
    {"no_show_grace_s": 10**30, "no_show_fee_cents": 10**30},
    {"reminder_offsets_s": "every day", "quiet_hours": {"start": "25:99"}},
    {"review_request_delay_s": -5, "auto_complete_delay_s": 10**18},
]


@settings(
    max_examples=int(os.environ.get("KEEPTIME_PROPERTY_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.generate],  # shrinking reruns whole workflows; the blob reproduces
    print_blob=True,
)
@given(
    automation=st.one_of(valid_settings(), st.sampled_from(BAD_ROWS)),
    starts_in_s=_edge(60, 400 * 24 * 3600),
    status=st.sampled_from(["confirmed", "pending", "checked_in"]),
    locale=st.sampled_from(["en", "de", "fj", "xx_YY"]),
)
async def test_no_settings_or_row_can_wedge_an_appointment_workflow(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    automation: dict[str, Any],
    starts_in_s: int,
    status: str,
    locale: str,
) -> None:
    env = skipping_env
    stored = AutomationSettings.from_stored(automation)
    try:
        async with running_worker(env.client, sessions, provider_settings):
            with env.with_time_skipping_disabled():
                business = await make_business(sessions, automation=automation)
                customer = await make_customer(sessions, business, locale=locale, channel_order=["sms"])
                starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=starts_in_s)
                appointment = await make_appointment(
                    sessions, business, customer, starts_at=starts_at, status=status
                )
                async with sessions() as session:
                    row = await session.get(Appointment, appointment.id)
                    assert row is not None
                    handle = await ensure_workflow(env.client, await appointment_snapshot(session, row))
            await env.fast_forward(handle, timedelta(days=900))
            final = await finished(handle)
            await _healthy(handle)
    finally:
        await terminate_running(env.client)
    async with sessions() as session:
        row = await session.get(Appointment, appointment.id)
    assert row is not None and row.status.value == final.status
    log = await log_of(sessions, appointment.id)
    flagged = ("appointment.settings", "failed", "invalid_settings") in log
    assert flagged == bool(stored.invalid), log
    assert not [entry for entry in log if entry[2] == "bad_data"], log


async def _healthy(handle: WorkflowHandle[Any, Any]) -> None:
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.COMPLETED, described.status
    history = await handle.fetch_history()
    failed_tasks = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    assert not failed_tasks, failed_tasks[0].workflow_task_failed_event_attributes.failure.message
