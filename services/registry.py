"""The one place that lists every workflow and builds every activity (worker.py and tests use it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from temporalio.client import Client

from activities.admin_digest import AdminDigestActivities
from activities.appointments import AppointmentActivities
from activities.batch_jobs import BatchJobActivities
from activities.cleanup import CleanupActivities
from activities.daily_plans import DailyPlanActivities
from activities.health import HealthActivities
from activities.invoices import InvoiceActivities
from activities.notifications import Checkpoint, NotificationActivities
from activities.payroll import PayrollActivities
from activities.policies import PolicyActivities
from activities.project_digest import ProjectDigestActivities
from activities.providers import build_providers
from activities.reconciler import ReconcilerActivities
from activities.rollout import RolloutActivities
from activities.staff_notices import StaffNoticeActivities
from activities.vaccinations import VaccinationActivities
from activities.voice_agent import VoiceAgentClient
from activities.weather import WeatherActivities
from activities.weather_api import WeatherApi
from activities.webhooks import WebhookActivities
from db.engine import SessionFactory
from keeptime.settings import Settings
from workflows.admin_digest import AdminDigestWorkflow
from workflows.appointment import AppointmentWorkflow
from workflows.broadcast import BroadcastWorkflow
from workflows.daily_plan import DailyPlanWorkflow
from workflows.health_check import DatabaseHealthCheckWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.jobs import (
    BatchJobWorkflow,
    NotificationLogCleanupWorkflow,
    PlatformStatsWorkflow,
    ProjectDigestWorkflow,
    ReconcilerWorkflow,
    StaffNoticesWorkflow,
    WeatherWorkflow,
    WeeklyPayrollWorkflow,
)
from workflows.notification import NotificationWorkflow
from workflows.policy import PolicyWorkflow
from workflows.settings_rollout import SettingsRolloutWorkflow
from workflows.vaccination import VaccinationWorkflow
from workflows.webhooks import WebhookRelayWorkflow

WORKFLOWS: Sequence[type] = (
    AppointmentWorkflow,
    VaccinationWorkflow,
    InvoiceWorkflow,
    DailyPlanWorkflow,
    PolicyWorkflow,
    DatabaseHealthCheckWorkflow,
    ReconcilerWorkflow,
    NotificationLogCleanupWorkflow,
    BatchJobWorkflow,
    PlatformStatsWorkflow,
    WeeklyPayrollWorkflow,
    WeatherWorkflow,
    ProjectDigestWorkflow,
    StaffNoticesWorkflow,
    NotificationWorkflow,
    BroadcastWorkflow,
    SettingsRolloutWorkflow,
    AdminDigestWorkflow,
    WebhookRelayWorkflow,
)


def build_activities(
    sessions: SessionFactory,
    settings: Settings,
    http: aiohttp.ClientSession,
    client: Client,
    *,
    checkpoint: Checkpoint | None = None,
) -> list[Callable[..., Any]]:
    """Every activity, bound to the resources the worker owns (``checkpoint``: fault injection in tests)."""
    health = HealthActivities(sessions)
    notifications = NotificationActivities(
        sessions, settings, build_providers(settings, http), checkpoint=checkpoint
    )
    appointments = AppointmentActivities(sessions)
    vaccinations = VaccinationActivities(sessions)
    invoices = InvoiceActivities(sessions)
    daily_plans = DailyPlanActivities(sessions)
    reconciler = ReconcilerActivities(sessions, client)
    rollout = RolloutActivities(sessions, client)
    digests = AdminDigestActivities(sessions)
    cleanup = CleanupActivities(sessions)
    batch_jobs = BatchJobActivities(sessions)
    payrolls = PayrollActivities(sessions)
    project_digests = ProjectDigestActivities(sessions)
    staff_notices = StaffNoticeActivities(sessions)
    webhooks = WebhookActivities(sessions, settings)
    weather = WeatherActivities(
        sessions, WeatherApi(http, settings.weather_api_url, settings.weather_timeout_s)
    )
    policies = PolicyActivities(sessions, VoiceAgentClient(settings, http))
    return [
        policies.plan_policy_call,
        policies.claim_call,
        policies.place_call,
        policies.finish_call,
        policies.apply_policy_action,
        policies.renew_policy,
        policies.expire_policy,
        cleanup.delete_notification_log_batch,
        batch_jobs.run_job_batch,
        payrolls.create_due_payrolls,
        weather.refresh_due_weather,
        project_digests.due_project_digests,
        staff_notices.due_staff_notices,
        webhooks.relay_webhooks,
        batch_jobs.compute_platform_stats,
        notifications.retry_failed_batch,
        reconciler.reconcile_workflows,
        rollout.wake_page,
        rollout.mark_rolled_out,
        rollout.ensure_admin_digest,
        digests.plan_digest,
        digests.digest_reported,
        daily_plans.load_daily_plan,
        daily_plans.act_on_plan_deadline,
        invoices.load_invoice,
        invoices.act_on_invoice_moment,
        vaccinations.load_vaccination,
        vaccinations.set_vaccination_status,
        appointments.load_appointment,
        appointments.apply_transition,
        appointments.record_skipped_notification,
        appointments.check_reviewed,
        health.check_database_health,
        notifications.plan_notification,
        notifications.send_notification,
        notifications.send_broadcast_batch,
        notifications.finish_broadcast,
    ]
