"""When a long-lived workflow continues as new: one rule for every entity workflow."""

from __future__ import annotations

from temporalio import workflow


def history_is_long(limit: int) -> bool:
    """Temporal suggests continue-as-new (about 4,096 events or 4 MB), or the history passed ``limit``
    events (the workflow input's ``continue_as_new_after_events``, low in tests)."""
    info = workflow.info()
    return info.is_continue_as_new_suggested() or info.get_current_history_length() > limit
