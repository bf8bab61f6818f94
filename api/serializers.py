"""Rows to JSON: one function per resource, so every endpoint shows a resource the same way."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from api.resources import (
    AppointmentOut,
    BroadcastOut,
    BusinessOut,
    CallOut,
    CustomerOut,
    DailyPlanOut,
    EmployeeOut,
    InAppNotificationOut,
    InventoryItemOut,
    InvoiceOut,
    NotificationOut,
    PayrollPeriodOut,
    PetOut,
    PolicyOut,
    ProjectOut,
    Rating,
    StaffPreferencesOut,
    StaffUserOut,
    TimeEntryOut,
    TouchUpOut,
    VaccinationOut,
    WeatherOut,
)
from db.models import (
    Appointment,
    Broadcast,
    Business,
    Call,
    Customer,
    DailyPlan,
    Employee,
    InAppNotification,
    InventoryItem,
    Invoice,
    NotificationLog,
    PayrollPeriod,
    Pet,
    Policy,
    Project,
    StaffUser,
    TemplateOverride,
    TimeEntry,
    TouchUp,
    Vaccination,
    WeatherSnapshot,
)
from db.weather import daily_weather
from domain.automation import AutomationSettings
from domain.ids import (
    appointment_workflow_id,
    broadcast_workflow_id,
    daily_plan_workflow_id,
    invoice_workflow_id,
    policy_workflow_id,
    vaccination_workflow_id,
)
from domain.preferences import Preferences
from domain.staff_notify import StaffNotifyPrefs


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


def effective_automation(business: Business) -> dict[str, Any]:
    """The settings in force: stored values with the defaults filled in (and out-of-range ones replaced)."""
    return AutomationSettings.from_stored(business.automation).settings.model_dump(mode="json")


def business_json(business: Business) -> dict[str, Any]:
    return BusinessOut.model_validate(
        {
            "id": business.id,
            "name": business.name,
            "time_zone": business.time_zone,
            "admin_email": business.admin_email,
            "locale": business.locale,
            "automation": effective_automation(business),
            "rating": rating_json(business),
            "created_at": _iso(business.created_at),
            "settings_revision": business.settings_revision,
            "rolled_out_revision": business.rolled_out_revision,
        }
    ).model_dump(mode="json")


def customer_json(customer: Customer) -> dict[str, Any]:
    return CustomerOut.model_validate(
        {
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
            "preferences": Preferences.from_stored(customer.preferences).model_dump(),
            "reputation_score": customer.reputation_score,
            "external_id": customer.external_id,
            "metadata": customer.meta,
        }
    ).model_dump(mode="json")


def notification_json(row: NotificationLog) -> dict[str, Any]:
    return NotificationOut.model_validate(
        {
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
            "in_flight": row.in_flight_since is not None,
            "resolution": row.resolution,
        }
    ).model_dump(mode="json")


def broadcast_json(broadcast: Broadcast) -> dict[str, Any]:
    return BroadcastOut.model_validate(
        {
            "id": broadcast.id,
            "subject": broadcast.subject,
            "recipient_count": broadcast.recipient_count,
            "status": broadcast.status,
            "report": broadcast.report,
            "created_at": _iso(broadcast.created_at),
            "finished_at": _iso(broadcast.finished_at),
            "workflow_id": broadcast_workflow_id(broadcast.id),
        }
    ).model_dump(mode="json")


def override_json(row: TemplateOverride) -> dict[str, Any]:
    return {"event": row.event, "channel": row.channel, "part": row.part, "body": row.body}


def appointment_json(appointment: Appointment) -> dict[str, Any]:
    return AppointmentOut.model_validate(
        {
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
            "workflow_id": appointment_workflow_id(appointment.id),
            "external_id": appointment.external_id,
            "metadata": appointment.meta,
        }
    ).model_dump(mode="json")


def rating_json(business: Business) -> dict[str, Any]:
    return Rating.model_validate(
        {
            "average": business.rating_average,
            "count": business.rating_count,
            "distribution": business.rating_distribution,
        }
    ).model_dump(mode="json")


def policy_json(policy: Policy) -> dict[str, Any]:
    return PolicyOut.model_validate(
        {
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
            "next_call_at": _iso(policy.next_call_at),
            "workflow_id": policy_workflow_id(policy.id),
            "external_id": policy.external_id,
            "metadata": policy.meta,
        }
    ).model_dump(mode="json")


def call_json(call: Call) -> dict[str, Any]:
    return CallOut.model_validate(
        {
            "id": call.id,
            "policy_id": call.policy_id,
            "kind": call.kind,
            "status": call.status.value,
            "reason": call.reason,
            "scheduled_for": _iso(call.scheduled_for),
            "local_day": _iso(call.local_day),
            "started_at": _iso(call.started_at),
            "ended_at": _iso(call.ended_at),
            "renewal_agreed": call.renewal_agreed,
            "summary": call.summary,
            "error": call.error,
        }
    ).model_dump(mode="json")


def pet_json(pet: Pet) -> dict[str, Any]:
    return PetOut.model_validate(
        {"id": pet.id, "owner_id": pet.owner_id, "name": pet.name, "species": pet.species}
    ).model_dump(mode="json")


def vaccination_json(record: Vaccination) -> dict[str, Any]:
    return VaccinationOut.model_validate(
        {
            "id": record.id,
            "pet_id": record.pet_id,
            "vaccine": record.vaccine,
            "status": record.status.value,
            "administered_at": _iso(record.administered_at),
            "expires_at": record.expires_at.isoformat(),
            "superseded_by": record.superseded_by,
            "workflow_id": vaccination_workflow_id(record.id),
        }
    ).model_dump(mode="json")


def staff_preferences_json(user: StaffUser) -> dict[str, Any]:
    prefs = StaffNotifyPrefs.from_stored(user.notify)
    return StaffPreferencesOut.model_validate(
        {
            "delivery": prefs.delivery,
            "channels": list(prefs.channels),
            "digest_time": prefs.digest_time.isoformat(
                "minutes" if not (prefs.digest_time.second or prefs.digest_time.microsecond) else "auto"
            ),
            "muted": list(prefs.muted),
            "phone": user.phone,
        }
    ).model_dump(mode="json")


def staff_user_json(user: StaffUser) -> dict[str, Any]:
    return StaffUserOut.model_validate(
        {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "roles": list(user.roles),
            "phone": user.phone,
            "notifications": staff_preferences_json(user),
        }
    ).model_dump(mode="json")


def invoice_json(invoice: Invoice, *, days_overdue: int) -> dict[str, Any]:
    return InvoiceOut.model_validate(
        {
            "id": invoice.id,
            "number": invoice.number,
            "client_name": invoice.client_name,
            "amount_cents": invoice.amount_cents,
            "currency": invoice.currency,
            "due_on": invoice.due_on.isoformat(),
            "status": invoice.status.value,
            "days_overdue": days_overdue,
            "overdue_since": _iso(invoice.overdue_since),
            "paid_at": _iso(invoice.paid_at),
            "written_off_at": _iso(invoice.written_off_at),
            "write_off_reason": invoice.write_off_reason,
            "version": invoice.version,
            "workflow_id": invoice_workflow_id(invoice.id),
            "external_id": invoice.external_id,
            "metadata": invoice.meta,
        }
    ).model_dump(mode="json")


def in_app_notification_json(note: InAppNotification) -> dict[str, Any]:
    return InAppNotificationOut.model_validate(
        {
            "id": note.id,
            "event": note.event,
            "entity": f"{note.entity_type}:{note.entity_id}",
            "title": note.title,
            "link": note.link,
            "created_at": _iso(note.created_at),
            "read_at": _iso(note.read_at),
        }
    ).model_dump(mode="json")


def project_json(project: Project) -> dict[str, Any]:
    return ProjectOut.model_validate(
        {
            "id": project.id,
            "name": project.name,
            "status": project.status.value,
            "ends_on": _iso(project.ends_on),
            "latitude": project.latitude,
            "longitude": project.longitude,
            "external_id": project.external_id,
            "metadata": project.meta,
        }
    ).model_dump(mode="json")


def weather_json(snapshot: WeatherSnapshot) -> dict[str, Any]:
    figures = daily_weather(snapshot).model_dump(mode="json")
    return WeatherOut.model_validate(
        {**figures, "refreshed_on": snapshot.refreshed_on.isoformat()}
    ).model_dump(mode="json")


def daily_plan_json(plan: DailyPlan) -> dict[str, Any]:
    return DailyPlanOut.model_validate(
        {
            "id": plan.id,
            "project_id": plan.project_id,
            "plan_date": plan.plan_date.isoformat(),
            "status": plan.status.value,
            "submitted_at": _iso(plan.submitted_at),
            "workflow_id": daily_plan_workflow_id(plan.id),
            "weather": plan.weather,
        }
    ).model_dump(mode="json")


def inventory_item_json(item: InventoryItem) -> dict[str, Any]:
    return InventoryItemOut.model_validate(
        {
            "id": item.id,
            "name": item.name,
            "unit": item.unit,
            "quantity": item.quantity,
            "threshold": item.threshold,
            "short": item.quantity < item.threshold,
            "shortage_alerted_at": _iso(item.shortage_alerted_at),
        }
    ).model_dump(mode="json")


def touch_up_json(touch_up: TouchUp) -> dict[str, Any]:
    return TouchUpOut.model_validate(
        {
            "id": touch_up.id,
            "project_id": touch_up.project_id,
            "reference": touch_up.reference,
            "title": touch_up.title,
            "priority": touch_up.priority.value,
            "status": touch_up.status.value,
        }
    ).model_dump(mode="json")


def employee_json(employee: Employee) -> dict[str, Any]:
    return EmployeeOut.model_validate(
        {"id": employee.id, "name": employee.name, "hourly_rate_cents": employee.hourly_rate_cents}
    ).model_dump(mode="json")


def time_entry_json(entry: TimeEntry) -> dict[str, Any]:
    return TimeEntryOut.model_validate(
        {
            "id": entry.id,
            "employee_id": entry.employee_id,
            "reference": entry.reference,
            "work_date": entry.work_date.isoformat(),
            "minutes": entry.minutes,
        }
    ).model_dump(mode="json")


def payroll_period_json(period: PayrollPeriod) -> dict[str, Any]:
    return PayrollPeriodOut.model_validate(
        {
            "id": period.id,
            "week_start": period.week_start.isoformat(),
            "status": period.status.value,
            "total_cents": period.total_cents,
            "lines": period.lines,
            "revision": period.revision,
            "computed_at": _iso(period.computed_at),
            "approved_at": _iso(period.approved_at),
            "approved_by": period.approved_by,
        }
    ).model_dump(mode="json")
