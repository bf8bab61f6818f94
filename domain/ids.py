"""Workflow ids: business keys, never random, defined once (the API, the services, the reconciler and the
workflows all name workflows through these)."""

from __future__ import annotations

from datetime import UTC, datetime


def appointment_workflow_id(appointment_id: int) -> str:
    return f"appointment-{appointment_id}"


def policy_workflow_id(policy_id: int) -> str:
    return f"policy-{policy_id}"


def vaccination_workflow_id(vaccination_id: int) -> str:
    return f"vaccination-{vaccination_id}"


def invoice_workflow_id(invoice_id: int) -> str:
    return f"invoice-{invoice_id}"


def daily_plan_workflow_id(plan_id: int) -> str:
    return f"daily-plan-{plan_id}"


def broadcast_workflow_id(broadcast_id: int) -> str:
    return f"broadcast-{broadcast_id}"


def single_notification_workflow_id(broadcast_id: int) -> str:
    return f"notification-broadcast-{broadcast_id}"


def health_check_workflow_id(now: datetime) -> str:
    """One run per UTC second: a double-click joins the running check instead of starting a second."""
    return f"health-check-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def settings_rollout_workflow_id(business_id: int, revision: int) -> str:
    """One rollout per settings revision: applying the same change twice joins the rollout that runs."""
    return f"settings-rollout-{business_id}-r{revision}"


def admin_digest_workflow_id(business_id: int) -> str:
    return f"admin-digest-{business_id}"


def staff_message_workflow_id(message_key: str) -> str:
    """The NotificationWorkflow of one staff message (a notification or a digest): its message key, so the
    job's next run finds the one already started instead of starting a second."""
    return f"staff-message-{message_key}"
