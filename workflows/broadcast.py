"""BroadcastWorkflow: one message to many customers, in bounded batches, rate-capped, cancellable.

Each batch is one activity over at most ``batch_size`` recipients (keyset-paginated, heartbeating); counts
are carried across continue-as-new, so 100,000 recipients never grow one history past a few hundred events.
``temporal workflow cancel`` (or ``POST /v1/broadcasts/{id}/cancel``) stops it within one recipient.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Literal

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from domain.notification_types import (
        BroadcastBatchInput,
        BroadcastInput,
        BroadcastState,
        BroadcastStatus,
        FinishBroadcastInput,
    )
    from domain.task_queues import NOTIFICATIONS
    from workflows.delivery import SEND_RETRY


@workflow.defn
class BroadcastWorkflow:
    @workflow.init
    def __init__(self, broadcast: BroadcastInput) -> None:
        self._broadcast = broadcast
        self._progress = broadcast.progress
        self._state: BroadcastState = "running"

    @workflow.query
    def progress(self) -> BroadcastStatus:
        return BroadcastStatus(
            broadcast_id=self._broadcast.broadcast_id,
            state=self._state,
            progress=self._progress,
        )

    @workflow.run
    async def run(self, broadcast: BroadcastInput) -> BroadcastStatus:
        try:
            for _ in range(broadcast.batches_per_run):
                if self._progress.done:
                    break
                await self._send_one_batch()
            else:
                if not self._progress.done:
                    workflow.continue_as_new(broadcast.model_copy(update={"progress": self._progress}))
        except asyncio.CancelledError:
            self._state = "cancelling"
            await self._finish("cancelled")
            raise
        await self._finish("completed")
        return self.progress()

    async def _send_one_batch(self) -> None:
        started = workflow.now()
        batch = await workflow.execute_activity_method(
            NotificationActivities.send_broadcast_batch,
            BroadcastBatchInput(
                broadcast_id=self._broadcast.broadcast_id,
                business_id=self._broadcast.business_id,
                after_customer_id=self._progress.last_customer_id,
                limit=self._broadcast.batch_size,
            ),
            task_queue=NOTIFICATIONS,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(seconds=60),
            retry_policy=SEND_RETRY,
            summary=f"batch after customer {self._progress.last_customer_id}",
        )
        self._progress = self._progress.add(batch)
        rate = self._broadcast.rate_per_s
        if rate and not self._progress.done:
            sent = batch.sent + batch.skipped + batch.failed
            pause = timedelta(seconds=sent / rate) - (workflow.now() - started)
            if pause > timedelta(0):
                await workflow.sleep(pause, summary="broadcast rate limit")

    async def _finish(self, state: Literal["completed", "cancelled"]) -> None:
        # Runs after a cancellation too: shield it so the report is written either way.
        await asyncio.shield(
            workflow.execute_activity_method(
                NotificationActivities.finish_broadcast,
                FinishBroadcastInput(
                    broadcast_id=self._broadcast.broadcast_id,
                    status=state,
                    progress=self._progress,
                ),
                task_queue=NOTIFICATIONS,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=0),
                summary=f"record broadcast {state}",
            )
        )
        self._state = state
