"""How workflows deliver notifications: plan (quiet hours), wait, send; one set of activity options."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.notification_types import (
        DeliveryPlan,
        NotificationRequest,
        NotificationResult,
        PlanNotificationInput,
    )
    from activities.notifications import NotificationActivities
    from workflows.task_queues import NOTIFICATIONS

SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=8,
)


async def plan_delivery(request: NotificationRequest, planned_for: datetime) -> DeliveryPlan:
    """Ask when to deliver (quiet hours, recipient's zone); a skip is already recorded when it comes back."""
    return await workflow.execute_activity_method(
        NotificationActivities.plan_notification,
        PlanNotificationInput(request=request, planned_for=planned_for, now=workflow.now()),
        task_queue=NOTIFICATIONS,
        start_to_close_timeout=timedelta(seconds=30),
        summary=f"plan {request.event_name}",
    )


async def send_now(request: NotificationRequest) -> NotificationResult:
    """Send at once through the idempotent delivery activity (retries are safe: the key dedupes)."""
    return await workflow.execute_activity_method(
        NotificationActivities.send_notification,
        request,
        task_queue=NOTIFICATIONS,
        start_to_close_timeout=timedelta(minutes=2),
        heartbeat_timeout=timedelta(seconds=30),
        retry_policy=SEND_RETRY,
        summary=f"send {request.event_name}",
    )


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
    return await send_now(request)
