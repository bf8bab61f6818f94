"""The webhook relay's workflow: one run of the relay activity per Schedule action (services/schedules.py).

The ``webhook-relay`` Schedule fires every minute with overlap BUFFER_ONE, and each run relays for a
minute, so the next run starts as the previous one ends: delivery never pauses for more than a workflow
start. The activity heartbeats every poll; if its worker dies, Temporal retries it on another after the
heartbeat timeout, and the retry waits for the dead attempt's advisory lock (activities.webhooks).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from domain.job_types import JobMetrics
    from domain.task_queues import MAINTENANCE
    from domain.webhooks import ATTEMPT_TIMEOUT_S, RelayWebhooksInput


@workflow.defn
class WebhookRelayWorkflow:
    """Delivers the businesses' events to their webhook endpoints for one run (``run_for_s``)."""

    @workflow.run
    async def run(self, request: RelayWebhooksInput) -> JobMetrics:
        metrics = JobMetrics(job="webhook-relay")
        try:
            result = await workflow.execute_activity_method(
                WebhookActivities.relay_webhooks,
                request,
                task_queue=MAINTENANCE,
                # the run, the last attempts' drain, and the wait for a previous attempt's lock
                start_to_close_timeout=timedelta(seconds=2 * request.run_for_s + ATTEMPT_TIMEOUT_S + 30),
                heartbeat_timeout=timedelta(seconds=20),
                retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1)),
                summary="deliver events to webhook endpoints",
            )
        except ActivityError as error:
            return metrics.failed("relay webhooks", error)
        counts = result.model_dump()
        return metrics.model_copy(
            update={
                "scanned": result.delivered + result.failed_attempts,
                "changed": result.delivered,
                "counts": counts,
            }
        )
