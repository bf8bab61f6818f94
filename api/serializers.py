"""Rows to JSON: one function per resource, so every endpoint shows a resource the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.models import Appointment, Broadcast, Business, Customer, NotificationLog, TemplateOverride
from workflows.broadcast import broadcast_workflow_id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def business_json(business: Business) -> dict[str, Any]:
    return {
        "id": business.id,
        "name": business.name,
        "time_zone": business.time_zone,
        "admin_email": business.admin_email,
        "automation": business.automation,
        "rating": rating_json(business),
        "created_at": _iso(business.created_at),
    }


def customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "push_token": customer.push_token,
        "time_zone": customer.time_zone,
        "locale": customer.locale,
        "channel_order": customer.channel_order,
        "email_opted_in": customer.email_opted_in,
        "sms_opted_in": customer.sms_opted_in,
        "push_opted_in": customer.push_opted_in,
        "reputation_score": customer.reputation_score,
    }


def notification_json(row: NotificationLog) -> dict[str, Any]:
    return {
        "id": row.id,
        "entity": f"{row.entity_type}:{row.entity_id}",
        "event": row.event,
        "recipient": row.recipient,
        "channel": row.channel.value if row.channel else None,
        "provider": row.provider,
        "status": row.status.value,
        "reason": row.reason,
        "attempts": row.attempts,
        "error": row.error,
        "scheduled_for": _iso(row.scheduled_for),
        "created_at": _iso(row.created_at),
        "sent_at": _iso(row.sent_at),
        "delivered_at": _iso(row.delivered_at),
        "provider_message_id": row.provider_message_id,
        "idempotency_key": row.idempotency_key,
    }


def broadcast_json(broadcast: Broadcast) -> dict[str, Any]:
    return {
        "id": broadcast.id,
        "subject": broadcast.subject,
        "recipient_count": broadcast.recipient_count,
        "status": broadcast.status,
        "report": broadcast.report,
        "created_at": _iso(broadcast.created_at),
        "finished_at": _iso(broadcast.finished_at),
        "workflow_id": broadcast_workflow_id(broadcast.id),
    }


def override_json(row: TemplateOverride) -> dict[str, Any]:
    return {"event": row.event, "channel": row.channel, "part": row.part, "body": row.body}


def appointment_json(appointment: Appointment) -> dict[str, Any]:
    return {
        "id": appointment.id,
        "customer_id": appointment.customer_id,
        "service": appointment.service,
        "resource": appointment.resource,
        "status": appointment.status.value,
        "starts_at": _iso(appointment.starts_at),
        "ends_at": _iso(appointment.ends_at),
        "version": appointment.version,
        "cancel_reason": appointment.cancel_reason,
        "checked_in_at": _iso(appointment.checked_in_at),
        "completed_at": _iso(appointment.completed_at),
        "workflow_id": f"appointment-{appointment.id}",
    }


def rating_json(business: Business) -> dict[str, Any]:
    return {
        "average": business.rating_average,
        "count": business.rating_count,
        "distribution": business.rating_distribution,
    }
