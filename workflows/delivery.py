"""How workflows deliver notifications: plan (quiet hours), wait, send; one set of activity options."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.attempts import HEARTBEAT_TIMEOUT
    from activities.notifications import NotificationActivities
    from domain.notification_types import (
        DeliveryPlan,
        NotificationRequest,
        NotificationResult,
        PlanNotificationInput,
    )
    from domain.task_queues import NOTIFICATIONS
    from workflows.db_calls import DB_RETRY

SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=8,
)


async def plan_delivery(
    request: NotificationRequest, planned_for: datetime, *, local: bool = False
) -> DeliveryPlan:
    """Ask when to deliver (quiet hours, recipient's zone); a skip is already recorded when it comes back.

    ``local``: as a local activity, inside the workflow task that asks (two reads and a pure computation):
    no activity task, no extra workflow task and three history events fewer per message
    (README "Benchmarks"). A local activity retries in the worker and, after ``local_retry_threshold``,
    across workflow tasks; it is for short work only, as Temporal's docs say of local activities."""
    arg = PlanNotificationInput(request=request, planned_for=planned_for, now=workflow.now())
    if local:
        return await workflow.execute_local_activity_method(
            NotificationActivities.plan_notification,
            arg,
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=DB_RETRY,  # only reads: retried without limit, as every database call
            summary=f"plan {request.event_name}",
        )
    return await workflow.execute_activity_method(
        NotificationActivities.plan_notification,
        arg,
        task_queue=NOTIFICATIONS,
        start_to_close_timeout=timedelta(seconds=30),
        summary=f"plan {request.event_name}",
    )


def aim_from(workflow_now: datetime, plan: DeliveryPlan | None) -> datetime:
    """The instant a wait set in the same workflow task as ``plan`` (None: no plan in it) is measured from.

    A Temporal timer is relative: the server starts it when the workflow task completes, while
    ``workflow.now()`` is when the task started, advanced only by a local activity's own run time
    (``complete_time = wf_time_when_started + runtime`` in sdk-core's ``local_activity_state_machine.rs``, the
    runtime counted from the activity's dispatch). In a busy worker the task waits before its local
    activity is dispatched, and the timer then fires that much late (README "Load"). The worker's clock
    when the plan was made (``planned_at``) is part of the local activity's result, recorded in its marker,
    so replay measures from the same instant and leaves out that wait. A worker clock ahead of the server's
    would fire the timer early: the workflow compares ``workflow.now()`` (the server's) with the instant
    when it fires and sleeps the rest. Plans recorded before ``planned_at`` existed carry none: their waits
    are measured as before, so their histories replay to the same commands."""
    if plan is None or plan.planned_at is None:
        return workflow_now
    return max(workflow_now, plan.planned_at)


async def send_now(request: NotificationRequest, due_at: datetime | None = None) -> NotificationResult:
    """Send at once through the idempotent delivery activity (retries are safe: the key dedupes).
    ``due_at``: when it was planned to go out, for the lateness metric (not part of the message's key).

    Never raises for the message's own sake: when every attempt has failed, the result says so (the
    workflow records it and goes on), so one message can never fail the workflow that sends it."""
    try:
        return await workflow.execute_activity_method(
            NotificationActivities.send_notification,
            request if due_at is None else request.model_copy(update={"due_at": due_at}),
            task_queue=NOTIFICATIONS,
            # The attempt ends itself 5 s before this and heartbeats every second (activities.attempts; the
            # worker flushes them at least every 2 s), so a retry never starts while an attempt still runs;
            # the heartbeat timeout catches a dead worker: a send it held is retried elsewhere within 6 s
            # (bench/recovery.py measures it). Even if a starved worker missed it, the send's
            # compare-and-set on the log row lets only one attempt reach the provider.
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=SEND_RETRY,
            summary=f"send {request.event_name}",
        )
    except ActivityError as error:
        workflow.logger.warning("%s: every send attempt failed: %s", request.event_name, error.cause)
        return NotificationResult(status="failed", message_key=request.message_key(), reason="send_gave_up")


async def deliver(request: NotificationRequest, planned_for: datetime) -> NotificationResult:
    """Plan, sleep durably until the delivery time, send. Not interruptible: long-lived workflows that
    must react to signals while waiting use ``plan_delivery`` and their own wait instead."""
    plan = await plan_delivery(request, planned_for)
    if plan.skipped is not None:
        return plan.skipped
    assert plan.deliver_at is not None
    delay = plan.deliver_at - workflow.now()
    if delay > timedelta(0):
        await workflow.sleep(delay, summary=f"until {request.event_name} may be delivered")
    return await send_now(request, plan.deliver_at)
