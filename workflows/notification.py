"""NotificationWorkflow: one message, planned for an instant (quiet hours honoured), sent once."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.notification_types import NotificationResult, SendNotificationInput
    from workflows.delivery import deliver


@workflow.defn
class NotificationWorkflow:
    """Started by ``POST /v1/notifications`` as ``notification-broadcast-<id>`` (a repeat joins the run)."""

    @workflow.run
    async def run(self, send: SendNotificationInput) -> NotificationResult:
        return await deliver(send.request, send.planned_for or workflow.now())
