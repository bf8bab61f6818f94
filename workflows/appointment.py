"""AppointmentWorkflow (``appointment-<id>``): one durable timeline per appointment.

Booked -> confirmation (and admin alert); confirmed -> reminders at each offset; start + grace without
check-in -> no-show (fee, penalty, notice); checked in -> completed at the end; completed -> review request
and one review reminder unless reviewed; pending never confirmed -> cancelled ``unconfirmed`` at start.

Steering: updates ``reschedule``, ``confirm``, ``check_in``, ``complete``, ``mark_no_show``,
``cancel_with_answer`` (validated, answered with the new state; a repeat is a no-op answered with the
current state); signals ``cancel``, ``review_submitted`` and ``settings_changed`` (re-read the
business's settings and re-plan what has not happened yet; sent by the settings rollout); native
cancellation behaves like ``cancel``; query ``state``. Every status change is written to PostgreSQL by
an activity before the workflow adopts it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.appointments import CONFLICT, AppointmentActivities
    from domain import search_attributes as attrs
    from domain.appointment_timeline import (
        Step,
        message_request,
        next_step,
        replan,
        skip_reason,
        slot_of,
    )
    from domain.appointment_types import (
        RESCHEDULABLE,
        TRANSITIONS,
        AppointmentInput,
        AppointmentRef,
        AppointmentSnapshot,
        AppointmentState,
        AppointmentView,
        CancelInput,
        MessageRecord,
        NextAction,
        RescheduleInput,
        ReviewSubmittedInput,
        SkipNotificationInput,
        StepInput,
        TakenStep,
        TransitionInput,
    )
    from domain.notification_types import DeliveryPlan, NotificationRequest, NotificationResult
    from domain.rollout_types import SettingsChanged
    from domain.task_queues import APPOINTMENTS, REVIEWS
    from workflows.db_calls import call_db
    from workflows.delivery import aim_from, plan_delivery, send_now
    from workflows.history import history_is_long

Arg = TypeVar("Arg")
Result = TypeVar("Result")
INVALID = "InvalidRequest"
MESSAGE_HISTORY = 50  # the query shows the latest messages; the notification log has them all
SAME_SLOT_IS_NO_OP = "reschedule-same-slot-is-no-op"  # before it, a same-slot reschedule bumped the version
REMEMBER_SENT_SLOTS = "remember-sent-reminder-slots"  # before it, A -> B -> A re-sent A's reminders
LOCAL_PLANNING = "plan-messages-locally"  # before it, quiet-hours planning was a (remote) activity
UPSERT_ON_CHANGE = "upsert-search-attributes-on-change"  # before it, every wait upserted them again
# UPSERT_ON_CHANGE decided in the run's first workflow task. Asked where it was, right after the quiet-hours
# local activity, its marker could land one workflow task later than replay puts it (the local activity's
# result was handed to the workflow in the next task, replay hands it over in the same one), and the
# replay failed: "patch marker ... but there is no corresponding change command" (seen in CI). New patches
# are decided at the start of the run (see _decide_patches), never after a local activity.
PATCHES_AT_START = "patches-decided-at-start"
# Asked only where a settings_changed came during the settings' load (after a regular activity, never a
# local one): before it, that newer revision was cleared with the one being read.
KEEP_NEWER_SETTINGS_ASKED = "keep-settings-signalled-during-their-load"


@workflow.defn
class AppointmentWorkflow:
    @workflow.init
    def __init__(self, start: AppointmentInput) -> None:
        self._ref = AppointmentRef(appointment_id=start.appointment_id, business_id=start.business_id)
        self._state: AppointmentState | None = start.carried or (
            AppointmentState(snapshot=start.snapshot) if start.snapshot else None
        )
        self._lock = asyncio.Lock()
        self._woken = False
        self._upcoming = "starting"
        self._sleeping = False
        self._cancelling = False
        self._continuing = False
        self._revision_heard = 0
        self._published: tuple[str, object] | None = None  # the search attributes last upserted
        self._publish_on_change = False  # decided at the start of run(); False: a run begun before it

    # ----------------------------------------------------------------------------------------- run loop
    @workflow.run
    async def run(self, start: AppointmentInput) -> AppointmentView:
        self._decide_patches()
        if self._state is None:
            snapshot = await self._activity(
                AppointmentActivities.load_appointment, self._ref, "load appointment"
            )
            self._state = AppointmentState(snapshot=snapshot, settings_wanted=self._revision_heard)
        try:
            if not self._s.booked_announced:
                self._announce_booking()
            while True:
                if history_is_long(start.continue_as_new_after_events):
                    self._continuing = True  # lets a waiting cancel_with_answer answer "accepted"
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(start.model_copy(update={"carried": self._s, "snapshot": None}))
                # Steering that arrives from here on (even during an activity below) wakes the next wait.
                self._woken = False
                await self._drain_outbox()
                if self._s.cancel_request is not None:
                    await self._cancel(self._s.cancel_request)
                    continue
                if self._s.settings_wanted > self._s.snapshot.settings_revision:
                    await self._read_settings()
                    continue
                if self._s.snapshot.invalid_settings:
                    await self._record_invalid_settings()
                step = next_step(self._s, workflow.now())
                if step is None:
                    break
                if await self._wait_for(step) or self._woken:
                    continue  # steering arrived: the timeline may have changed
                if step.kind in ("reminder", "review_request", "review_reminder", "skip_reminder"):
                    await self._message_step(step)
                else:
                    async with self._lock:
                        if self._still_next(step):
                            await self._status_step(step)
            await workflow.wait_condition(workflow.all_handlers_finished)
        except asyncio.CancelledError:
            # `temporal workflow cancel` ends it like the cancel signal: status, message, clean end.
            await asyncio.shield(self._cancel(CancelInput(reason="cancelled in Temporal", by="temporal")))
            await asyncio.shield(self._drain_outbox())
            raise
        self._publish("done")
        return self.state()

    def _decide_patches(self) -> None:
        """Patches asked once, in the run's first workflow task: where replay puts that task never moves.
        A run that began on older code answers False here and keeps its old path (and its old markers)."""
        self._publish_on_change = workflow.patched(PATCHES_AT_START)

    @property
    def _s(self) -> AppointmentState:
        if self._state is None:  # only while the very first activity loads the row
            raise ApplicationError("the appointment is still being loaded; try again", type=CONFLICT)
        return self._state

    async def _wait_for(self, step: Step) -> bool:
        """Sleep until the step is due (after quiet-hours planning for messages). True: go round again
        (steering woke us, or the timer fired before the instant by the server's clock)."""
        needs_plan = (
            step.kind in ("reminder", "review_request", "review_reminder") and step.key not in self._s.planned
        )
        plan = await self._plan(step) if needs_plan else None
        if needs_plan and plan is None:
            return False
        at = self._s.planned.get(step.key, step.at)
        self._publish(f"next: {step.label} at {at:%Y-%m-%d %H:%M} UTC")
        delay = at - aim_from(workflow.now(), plan)
        if delay <= timedelta(0) or self._woken:
            return self._woken
        self._sleeping = True
        try:
            await workflow.wait_condition(lambda: self._woken, timeout=delay, timeout_summary=step.label)
        except TimeoutError:
            # Early only when the worker's clock (aim_from) ran ahead of the server's: sleep the rest.
            return workflow.now() < at
        finally:
            self._sleeping = False
        return True

    async def _plan(self, step: Step) -> DeliveryPlan | None:
        """Quiet hours: when may this message go out? None when planning already recorded a skip."""
        request = self._request_for(step)
        plan = await plan_delivery(request, step.at, local=workflow.patched(LOCAL_PLANNING))
        if plan.skipped is not None:
            self._record(request, plan.skipped)
            self._s.handled.append(step.key)
            self._take(step, workflow.now(), plan.skipped)
            return None
        assert plan.deliver_at is not None
        self._s.planned[step.key] = plan.deliver_at
        return plan

    def _still_next(self, step: Step) -> bool:
        current = next_step(self._s, workflow.now())
        return current is not None and current.key == step.key

    # -------------------------------------------------------------------------------------- timeline steps
    async def _message_step(self, step: Step) -> None:
        if not self._still_next(step):
            return
        request = self._request_for(step)
        taken_at = workflow.now()
        # The same rule as the settings preview's (domain.appointment_timeline.skip_reason). A review step
        # asks the reviews service once more first: a review may have come in since the row was read.
        reason = skip_reason(self._s, step)
        if reason is None and step.kind in ("review_request", "review_reminder") and await self._reviewed():
            reason = "already_reviewed"
        if reason is not None:
            result = await self._activity(
                AppointmentActivities.record_skipped_notification,
                SkipNotificationInput(request=request, reason=reason),
                "record skip",
            )
        else:
            result = await send_now(request, self._s.planned.get(step.key))
            sent = step.kind == "reminder" and result.status in ("sent", "delivered")
            if sent and workflow.patched(REMEMBER_SENT_SLOTS):
                self._s.sent_slots.append(slot_of(self._s.snapshot, step))
            if sent:
                self._s.last_reminder_at[f"v{self._s.snapshot.version}"] = workflow.now()
        if step.kind == "review_request":
            self._s.review_requested_at = workflow.now()
        self._s.handled.append(step.key)
        self._record(request, result)
        self._take(step, taken_at, result)

    def _take(self, step: Step, at: datetime, outcome: NotificationResult | str) -> None:
        """The step as taken, for the view's ``steps``: what the settings preview forecast for it."""
        if isinstance(outcome, NotificationResult):
            outcome = f"skip: {outcome.reason}" if outcome.status == "skipped" else "send"
        kind = "reminder" if step.kind == "skip_reminder" else step.kind
        self._s.taken.append(TakenStep(label=step.label, kind=kind, at=at, outcome=outcome))
        del self._s.taken[:-MESSAGE_HISTORY]

    async def _record_invalid_settings(self) -> None:
        """Stored settings out of range (an old row, a hand edit): the defaults apply to those fields, and
        the timeline says so once per version, as a failed step an operator sees."""
        snapshot = self._s.snapshot
        key = f"invalid_settings:v{snapshot.version}"
        if key in self._s.handled:
            return
        self._s.handled.append(key)
        request = NotificationRequest(
            business_id=snapshot.business_id,
            entity_type="appointment",
            entity_id=snapshot.appointment_id,
            event="appointment.settings",
            customer_id=None,
            entity_version=snapshot.version,
        )
        fields = ", ".join(snapshot.invalid_settings)
        skip = SkipNotificationInput(
            request=request,
            reason="invalid_settings",
            failed=True,
            detail=f"stored settings out of range: {fields}; the defaults apply to them until corrected",
        )
        self._record(
            request,
            await self._activity(
                AppointmentActivities.record_skipped_notification, skip, "record invalid settings"
            ),
        )

    async def _read_settings(self) -> None:
        """The business changed its settings: re-read them with the row and re-plan what has not happened.

        Steps already handled keep their keys (nothing sent is sent again); quiet-hours plans are made
        again; a reminder the change adds before one already sent is skipped (``already_reminded``); one it
        moves into the past follows the late-booking rule (sent while still useful, else skipped)."""
        async with self._lock:
            asked = self._s.settings_wanted
            snapshot = await self._activity(
                AppointmentActivities.load_appointment, self._ref, "read the new settings"
            )
            # A newer revision signalled while the load ran may not be in what it read: keep asking for it
            # (the run loop reads again until the snapshot has it). Runs begun before the patch cleared it.
            newer = self._s.settings_wanted > asked and self._s.settings_wanted > snapshot.settings_revision
            if not (newer and workflow.patched(KEEP_NEWER_SETTINGS_ASKED)):
                self._s.settings_wanted = 0
            self._adopt(snapshot)
            replan(self._s)

    async def _status_step(self, step: Step) -> None:
        self._s.handled.append(step.key)
        taken_at = workflow.now()
        if step.kind == "expire":
            await self._transition("cancel", reason="unconfirmed", by="system", at=taken_at)
            self._queue("appointment.cancelled")
        elif step.kind == "no_show_check":
            await self._transition("no_show", by="system", at=taken_at)
            self._queue("appointment.no_show")
        elif step.kind == "auto_complete":
            await self._transition("complete", by="system", at=taken_at)
        self._take(step, taken_at, self._s.snapshot.status)

    async def _reviewed(self) -> bool:
        if not self._s.snapshot.reviewed:
            reviewed = await self._activity(
                AppointmentActivities.check_reviewed, self._ref, "check reviews", queue=REVIEWS
            )
            self._s.snapshot = self._s.snapshot.model_copy(update={"reviewed": reviewed})
        return self._s.snapshot.reviewed

    async def _cancel(self, request: CancelInput) -> None:
        async with self._lock:
            self._s.cancel_request = None
            self._cancelling = True
            try:
                if self._s.snapshot.status in TRANSITIONS["cancel"].allowed_from:
                    await self._transition("cancel", reason=request.reason, by=request.by)
                    self._queue("appointment.cancelled")
            finally:
                self._cancelling = False

    # ------------------------------------------------------------------------------------------ messages
    def _announce_booking(self) -> None:
        self._s.booked_announced = True
        self._queue("appointment.booked")
        if self._s.snapshot.automation.notify_admin_on_booking:
            self._queue("appointment.admin_new_booking", to_admin=True)

    def _queue(self, event: str, *, to_admin: bool = False) -> None:
        snapshot = self._s.snapshot
        self._s.outbox.append(
            NotificationRequest(
                business_id=snapshot.business_id,
                entity_type="appointment",
                entity_id=snapshot.appointment_id,
                event=event,
                customer_id=None if to_admin else snapshot.customer_id,
                entity_version=snapshot.version,
            )
        )

    async def _drain_outbox(self) -> None:
        while self._s.outbox:
            request = self._s.outbox[0]
            self._record(request, await send_now(request))
            self._s.outbox.pop(0)

    def _request_for(self, step: Step) -> NotificationRequest:
        return message_request(self._s.snapshot, step)

    def _record(self, request: NotificationRequest, result: NotificationResult) -> None:
        self._s.messages.append(
            MessageRecord(
                event=request.event_name,
                status=result.status,
                channel=result.channel,
                reason=result.reason,
                at=workflow.now(),
            )
        )
        del self._s.messages[:-MESSAGE_HISTORY]

    # --------------------------------------------------------------------------------------- DB writes
    async def _transition(self, action: str, **values: object) -> None:
        change = TransitionInput.model_validate(
            {
                "appointment_id": self._ref.appointment_id,
                "business_id": self._ref.business_id,
                "action": action,
                **values,
            }
        )
        snapshot = await self._activity(AppointmentActivities.apply_transition, change, f"write {action}")
        self._adopt(snapshot)

    def _adopt(self, snapshot: AppointmentSnapshot) -> None:
        reviewed = self._s.snapshot.reviewed or snapshot.reviewed
        self._s.snapshot = snapshot.model_copy(update={"reviewed": reviewed})
        self._woken = True
        self._publish()

    async def _activity(
        self,
        method: Callable[[Any, Arg], Awaitable[Result]],
        arg: Arg,
        summary: str,
        *,
        queue: str = APPOINTMENTS,
    ) -> Result:
        return await call_db(method, arg, summary, queue=queue)

    # ------------------------------------------------------------------------------ visibility: query, UI
    @workflow.query
    def state(self) -> AppointmentView:
        snapshot = self._s.snapshot
        step = next_step(self._s, workflow.now())
        upcoming = (
            NextAction(kind=step.kind, label=step.label, at=self._s.planned.get(step.key, step.at))
            if step
            else None
        )
        return AppointmentView(
            appointment_id=snapshot.appointment_id,
            status=snapshot.status,
            starts_at=snapshot.starts_at,
            ends_at=snapshot.ends_at,
            version=snapshot.version,
            next_action=upcoming,
            sleeping=self._sleeping,
            messages=list(self._s.messages),
            steps=list(self._s.taken),
        )

    def _publish(self, upcoming: str | None = None) -> None:
        """Keep the Web UI current: search attributes, and the details line under the summary."""
        snapshot = self._s.snapshot
        published = (snapshot.status, snapshot.starts_at)
        # An unchanged upsert is still a history event and a visibility write on the server. Runs begun
        # before PATCHES_AT_START ask UPSERT_ON_CHANGE where they always did, so their histories replay.
        if published != self._published or not (
            self._publish_on_change or workflow.patched(UPSERT_ON_CHANGE)
        ):
            workflow.upsert_search_attributes(
                [attrs.STATUS.value_set(snapshot.status), attrs.STARTS_AT.value_set(snapshot.starts_at)]
            )
            self._published = published
        if upcoming is not None:
            self._upcoming = upcoming
        workflow.set_current_details(f"**{snapshot.status}** · v{snapshot.version} · {self._upcoming}")

    # -------------------------------------------------------------------------------------------- steering
    @workflow.signal
    def cancel(self, request: CancelInput) -> None:
        """CLI: ``temporal workflow signal -w appointment-<id> --name cancel --input '{"reason": "x"}'``"""
        self._s.cancel_request = request
        self._woken = True

    @workflow.update
    async def cancel_with_answer(self, request: CancelInput) -> AppointmentView:
        """Cancel and answer with the state once the cancellation is written (a repeat answers the same).

        CLI: ``temporal workflow update execute -w appointment-<id> --name cancel_with_answer --input '{}'``.
        The state still says pending/confirmed when the workflow hands over to its next run first; the
        cancel is carried there (the API answers 202 then)."""
        if self._s.snapshot.status in TRANSITIONS["cancel"].allowed_from and self._s.cancel_request is None:
            self._s.cancel_request = request
            self._woken = True
        await workflow.wait_condition(
            lambda: (self._s.cancel_request is None and not self._cancelling) or self._continuing
        )
        return self.state()

    @cancel_with_answer.validator
    def _validate_cancel_with_answer(self, request: CancelInput) -> None:
        self._require_step("cancel", "cancel")

    @workflow.signal
    def settings_changed(self, change: SettingsChanged) -> None:
        """The business's settings changed (revision ``change.revision``): a repeat or an older one is
        ignored. CLI: ``temporal workflow signal -w appointment-<id> --name settings_changed --input
        '{"revision": 7}'``."""
        if self._state is None:  # still loading the row: remembered, applied once it is loaded
            self._revision_heard = max(self._revision_heard, change.revision)
        elif change.revision > self._s.snapshot.settings_revision:
            self._s.settings_wanted = max(self._s.settings_wanted, change.revision)
            self._woken = True

    @workflow.signal
    def review_submitted(self, review: ReviewSubmittedInput) -> None:
        self._s.snapshot = self._s.snapshot.model_copy(update={"reviewed": True})
        self._woken = True

    @workflow.update
    async def reschedule(self, change: RescheduleInput) -> AppointmentView:
        async with self._lock:
            # Repeating a reschedule (or asking for the slot it has) changes nothing and sends nothing.
            if self._same_slot(change) and workflow.patched(SAME_SLOT_IS_NO_OP):
                return self.state()
            self._require(self._s.snapshot.status in RESCHEDULABLE, "reschedule")
            await self._transition(
                "reschedule",
                starts_at=change.starts_at,
                ends_at=change.ends_at,
                to_version=self._s.snapshot.version + 1,
            )
            self._s.planned.clear()
            self._queue("appointment.rescheduled")
        return self.state()

    @reschedule.validator
    def _validate_reschedule(self, change: RescheduleInput) -> None:
        if change.starts_at.tzinfo is None or change.ends_at.tzinfo is None:
            raise ApplicationError("starts_at and ends_at need a UTC offset", type=INVALID)
        if self._same_slot(change):
            return  # a repeat: answered with the current state, whatever the status
        self._require(self._s.snapshot.status in RESCHEDULABLE, "reschedule")
        if change.starts_at <= workflow.now():
            raise ApplicationError("starts_at is in the past", type=INVALID)
        if change.ends_at <= change.starts_at:
            raise ApplicationError("ends_at must be after starts_at", type=INVALID)

    @workflow.update
    async def confirm(self, step: StepInput) -> AppointmentView:
        return await self._steer("confirm", step, "appointment.confirmed")

    @confirm.validator
    def _validate_confirm(self, step: StepInput) -> None:
        self._require_step("confirm", "confirm")

    @workflow.update
    async def check_in(self, step: StepInput) -> AppointmentView:
        return await self._steer("check_in", step, None)

    @check_in.validator
    def _validate_check_in(self, step: StepInput) -> None:
        self._require_step("check_in", "check in")

    @workflow.update
    async def complete(self, step: StepInput) -> AppointmentView:
        return await self._steer("complete", step, None)

    @complete.validator
    def _validate_complete(self, step: StepInput) -> None:
        self._require_step("complete", "complete")

    @workflow.update
    async def mark_no_show(self, step: StepInput) -> AppointmentView:
        return await self._steer("no_show", step, "appointment.no_show")

    @mark_no_show.validator
    def _validate_mark_no_show(self, step: StepInput) -> None:
        self._require_step("no_show", "mark as no-show")
        if self._s.snapshot.status != "no_show" and workflow.now() < self._s.snapshot.starts_at:
            raise ApplicationError("an appointment that has not started cannot be a no-show", type=CONFLICT)

    def _same_slot(self, change: RescheduleInput) -> bool:
        snapshot = self._s.snapshot
        return change.starts_at == snapshot.starts_at and change.ends_at == snapshot.ends_at

    def _require_step(self, action: str, verb: str) -> None:
        """Allowed from the transition's sources; a repeat (already at its target) is allowed as a no-op."""
        self._require(TRANSITIONS[action].accepts(self._s.snapshot.status), verb)

    async def _steer(self, action: str, step: StepInput, message: str | None) -> AppointmentView:
        async with self._lock:  # re-checked under the lock: the timeline may have moved meanwhile
            if self._s.snapshot.status == TRANSITIONS[action].target:
                return self.state()  # a repeat: the first call did it; nothing is written or sent again
            self._require(
                self._s.snapshot.status in TRANSITIONS[action].allowed_from, action.replace("_", " ")
            )
            await self._transition(action, by=step.by)
            if message:
                self._queue(message)
        return self.state()

    def _require(self, allowed: bool, verb: str) -> None:
        if not allowed:
            raise ApplicationError(
                f"cannot {verb}: the appointment is {self._s.snapshot.status}", type=CONFLICT
            )
