"""Saved histories (tests/histories, made by tests/record_histories.py) must replay on the current code.

A change that would break workflows already sleeping in production fails here: guard it with
``workflow.patched`` (and keep the old path) or, when it is meant to break, record the histories again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from domain.appointment_types import AppointmentInput, AppointmentView
from services.registry import WORKFLOWS
from workflows.appointment import AppointmentWorkflow

HISTORIES = sorted((Path(__file__).resolve().parent / "histories").glob("*.json"))


def _load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_there_are_histories_for_every_long_lived_workflow() -> None:
    names = {path.stem for path in HISTORIES}
    assert {
        "appointment_happy_path",
        "appointment_happy_path_v3",  # plans carry the worker's clock (planned_at)
        "appointment_confirm_reschedule_cancel",
        "broadcast_batches",
        "vaccination_thresholds",
        "policy_renewal",
        "policy_next_term_expiry",
        "policy_call_now_stop_cancel",
        "appointment_settings_change",
        "appointment_plan_result_in_next_task",  # the local activity result handed over a task later
        "settings_rollout",
        "settings_rollout_with_digest",
        "admin_digest",
        "admin_digest_since_last",  # the window since the last digest reported, and the final digest
        "invoice_ladder_moved_paid",
        "daily_plan_alerted",
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_saved_history_replays_on_the_current_code(path: Path) -> None:
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)
    await replayer.replay_workflow(_load(path))


@workflow.defn(name="AppointmentWorkflow", sandboxed=False)
class ChangedAppointmentWorkflow(AppointmentWorkflow):
    """The same workflow with one extra timer at the start: what an unguarded change looks like."""

    @workflow.run
    async def run(self, start: AppointmentInput) -> AppointmentView:
        await workflow.sleep(1)
        return await super().run(start)


async def test_an_unguarded_change_is_caught_by_the_replay() -> None:
    replayer = Replayer(workflows=[ChangedAppointmentWorkflow], data_converter=pydantic_data_converter)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(
            _load(next(p for p in HISTORIES if p.stem == "appointment_happy_path"))
        )
