"""SettingsRolloutWorkflow (``settings-rollout-<business>-r<revision>``): a settings change reaches every
sleeping workflow of the business, durably.

Started after the change is committed (the API, and the hourly reconciler for a business whose latest
revision was never rolled out). It pages through the business's appointments, vaccinations, policies,
open invoices and draft daily plans in PostgreSQL and signals each workflow; the cursor is in the workflow's
state, so a crash anywhere resumes at the page it was on, and a repeat of the whole rollout changes nothing
(the signal carries the revision). Progress: query ``progress``, the Web UI's details line, and
``GET /v1/businesses/me/settings-rollouts/<revision>``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.rollout import RolloutActivities
    from domain import search_attributes as attrs
    from domain.rollout_types import (
        CONSTRUCTION_KINDS,
        ROLLOUT_KINDS,
        KindProgress,
        RolledOutInput,
        RolloutInput,
        RolloutPageInput,
        RolloutProgress,
    )
    from domain.task_queues import MAINTENANCE

PAGE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
CONTINUE_AS_NEW_AFTER_EVENTS = 2_000
DIGEST_AND_STATUS = (
    "rollout-ensures-digest-and-marks-done"  # before it: no digest step, status stayed running
)
CONSTRUCTION = "rollout-wakes-invoices-and-daily-plans"  # before it: appointments, vaccinations, policies


@workflow.defn
class SettingsRolloutWorkflow:
    @workflow.init
    def __init__(self, start: RolloutInput) -> None:
        self._progress = start.carried or RolloutProgress(
            business_id=start.business_id,
            revision=start.revision,
            kinds=[KindProgress(kind=kind) for kind in ROLLOUT_KINDS],
        )

    @workflow.run
    async def run(self, start: RolloutInput) -> RolloutProgress:
        if workflow.patched(CONSTRUCTION):
            known = {kind.kind for kind in self._progress.kinds}
            self._progress.kinds += [KindProgress(kind=k) for k in CONSTRUCTION_KINDS if k not in known]
        for kind in self._progress.kinds:
            while not kind.done:
                if workflow.info().get_current_history_length() > CONTINUE_AS_NEW_AFTER_EVENTS:
                    workflow.continue_as_new(start.model_copy(update={"carried": self._progress}))
                page = await workflow.execute_activity_method(
                    RolloutActivities.wake_page,
                    RolloutPageInput(
                        business_id=start.business_id,
                        revision=start.revision,
                        kind=kind.kind,
                        after_id=kind.after_id,
                        limit=start.page_size,
                    ),
                    task_queue=MAINTENANCE,
                    start_to_close_timeout=timedelta(minutes=2),
                    heartbeat_timeout=timedelta(seconds=30),
                    retry_policy=PAGE_RETRY,  # until it succeeds: a rollout is never dropped half-way
                    summary=f"wake {kind.kind}s after id {kind.after_id}",
                )
                kind.after_id = page.last_id
                kind.signalled += page.signalled
                kind.started += page.started
                kind.not_running += page.not_running
                kind.done = page.done
                if page.superseded_by is not None:
                    return self._superseded(page.superseded_by)
                self._publish()
        done = RolledOutInput(business_id=start.business_id, revision=start.revision)
        if workflow.patched(DIGEST_AND_STATUS):
            await workflow.execute_activity_method(
                RolloutActivities.ensure_admin_digest,
                done,
                task_queue=MAINTENANCE,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PAGE_RETRY,
                summary="start or end the daily digest",
            )
        await workflow.execute_activity_method(
            RolloutActivities.mark_rolled_out,
            done,
            task_queue=MAINTENANCE,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=PAGE_RETRY,
            summary=f"revision {start.revision} rolled out",
        )
        self._progress.finished = True
        if workflow.patched(DIGEST_AND_STATUS):
            workflow.upsert_search_attributes([attrs.STATUS.value_set("done")])
        self._publish()
        return self._progress

    def _superseded(self, revision: int) -> RolloutProgress:
        """A newer revision's rollout tells every workflow (and then starts or ends the digest and marks the
        business rolled out): this one stops where it is."""
        self._progress.superseded_by = revision
        self._progress.finished = True
        workflow.upsert_search_attributes([attrs.STATUS.value_set("superseded")])
        self._publish()
        return self._progress

    @workflow.query
    def progress(self) -> RolloutProgress:
        return self._progress

    def _publish(self) -> None:
        parts = [f"{k.kind}s {k.signalled} told, {k.started} started" for k in self._progress.kinds]
        state = "done" if self._progress.finished else "running"
        if self._progress.superseded_by is not None:
            state = f"superseded by revision {self._progress.superseded_by}"
        workflow.set_current_details(f"**{state}** · " + " · ".join(parts))
