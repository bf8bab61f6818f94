"""Checks on histories a test has just made: they replay on the code that made them, and patches are asked
where replay cannot move them."""

from __future__ import annotations

import json
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from services.registry import WORKFLOWS
from workflows.appointment import LOCAL_PLANNING, REMEMBER_SENT_SLOTS, SAME_SLOT_IS_NO_OP

# Asked after the run's first workflow task by design, and never right after a local activity: a local
# activity's result can reach the workflow one task later than replay hands it over, which moved a patch
# marker and failed the replay (workflows/appointment.py, PATCHES_AT_START). New patches go at the start.
ASKED_MID_RUN = {SAME_SLOT_IS_NO_OP, REMEMBER_SENT_SLOTS, LOCAL_PLANNING}


async def replays_and_patches_at_start(handle: WorkflowHandle[Any, Any]) -> None:
    """The workflow's latest run replays on the current code (NondeterminismError otherwise), and every
    patch it asked outside ASKED_MID_RUN was asked in its first workflow task."""
    history = await handle.fetch_history()
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
    late = patches_after_first_task(history) - ASKED_MID_RUN
    assert not late, f"{handle.id}: patches asked after the first workflow task: {sorted(late)}"


def patches_after_first_task(history: WorkflowHistory) -> set[str]:
    tasks_completed = 0
    late: set[str] = set()
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            tasks_completed += 1
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_patch" and tasks_completed > 1:
                late.add(json.loads(marker.details["patch-data"].payloads[0].data)["id"])
    return late
