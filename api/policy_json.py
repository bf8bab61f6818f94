"""JSON shapes of policies and calls (no personal data beyond what the tenant's operators already see)."""

from __future__ import annotations

from typing import Any

from db.models import Call, Policy
from keeptime.policy_service import policy_workflow_id


def policy_json(policy: Policy) -> dict[str, Any]:
    return {
        "id": policy.id,
        "customer_id": policy.customer_id,
        "policy_number": policy.policy_number,
        "product": policy.product,
        "duration_months": policy.duration_months,
        "end_date": policy.end_date.isoformat(),
        "status": policy.status.value,
        "term": policy.term,
        "call_attempts": policy.call_attempts,
        "declined": policy.declined_at is not None,
        "calls_stopped": policy.calls_stopped,
        "next_call_at": policy.next_call_at.isoformat() if policy.next_call_at else None,
        "workflow_id": policy_workflow_id(policy.id),
    }


def call_json(call: Call) -> dict[str, Any]:
    return {
        "id": call.id,
        "policy_id": call.policy_id,
        "kind": call.kind,
        "status": call.status.value,
        "reason": call.reason,
        "scheduled_for": call.scheduled_for.isoformat() if call.scheduled_for else None,
        "local_day": call.local_day.isoformat() if call.local_day else None,
        "started_at": call.started_at.isoformat() if call.started_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "renewal_agreed": call.renewal_agreed,
        "summary": call.summary,
        "error": call.error,
    }
