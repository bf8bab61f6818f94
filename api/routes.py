"""Every route in one list, each with its OpenAPI operation; ``setup_routes`` registers both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from activities.health_types import DatabaseHealthReport
from api import (
    appointments,
    businesses,
    calls,
    health,
    health_checks,
    jobs,
    notifications,
    policies,
    scheduler,
    stats,
    vaccinations,
    webhooks,
)
from api.keys import OPENAPI
from api.openapi import Route, build_document, error_response, json_response, openapi_json, operation
from api.queries import (
    AppointmentListQuery,
    CallListQuery,
    NotificationListQuery,
    PendingCallsQuery,
    PlatformStatsQuery,
    PolicyListQuery,
    UpcomingVaccinationsQuery,
)
from api.schemas import (
    AppointmentCreate,
    BroadcastCreate,
    BusinessCreate,
    BusinessUpdate,
    CallCleanupBody,
    CallSummaryBody,
    CancelBody,
    CustomerCreate,
    CustomerUpdate,
    ManualCallCreate,
    PetCreate,
    PolicyCreate,
    PolicyUpdate,
    PushReceipt,
    Reschedule,
    ReviewBody,
    SingleNotification,
    TemplateOverrideBody,
    TriggerCallsBody,
    VaccinationCreate,
)
from keeptime.call_config import CallSchedulerConfig

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ADMIN: list[dict[str, list[str]]] = [{"bearer": []}]
BUSINESS: list[dict[str, list[str]]] = [{"bearer": []}]
UNAUTHORIZED = {"401": error_response("missing or wrong key")}
INVALID = {"422": error_response("invalid input; `fields` names each field at fault")}
NOT_FOUND = {"404": error_response("not found (or another business's)")}


ROUTES: list[Route] = [
    Route(
        "GET", "/healthz", health.healthz, "The process is up", {"200": json_response("up")}, tags=("ops",)
    ),
    Route(
        "GET",
        "/readyz",
        health.readyz,
        "PostgreSQL and Temporal are reachable",
        {"200": json_response("ready"), "503": json_response("not ready, with the reason per dependency")},
        tags=("ops",),
    ),
    Route(
        "GET",
        "/openapi.json",
        openapi_json,
        "This document",
        {"200": json_response("OpenAPI 3.1")},
        tags=("ops",),
    ),
    Route(
        "POST",
        "/v1/health-checks",
        health_checks.run_health_check,
        "Run the database health check now (a Temporal workflow) and return its report",
        {
            "200": json_response("report"),
            "401": error_response("missing or wrong admin key"),
            "504": error_response("no worker finished the check in time"),
        },
        security=ADMIN,
        tags=("ops",),
        result=DatabaseHealthReport,
    ),
    Route(
        "GET",
        "/v1/health-checks/latest",
        health_checks.latest_health_check,
        "The most recent database health check report",
        {
            "200": json_response("report"),
            "401": error_response("missing or wrong admin key"),
            "404": error_response("no check has run yet"),
        },
        security=ADMIN,
        tags=("ops",),
    ),
    Route(
        "POST",
        "/v1/businesses",
        businesses.create,
        "Create a business; returns its first API key (shown once)",
        {"201": json_response("the business and its API key"), **UNAUTHORIZED, **INVALID},
        security=ADMIN,
        tags=("businesses",),
        body=BusinessCreate,
    ),
    Route(
        "GET",
        "/v1/businesses/me",
        businesses.me,
        "The calling business and its automation settings",
        {"200": json_response("business"), **UNAUTHORIZED},
        security=BUSINESS,
        tags=("businesses",),
    ),
    Route(
        "PATCH",
        "/v1/businesses/me",
        businesses.update_me,
        "Change name, time zone, admin e-mail, automation",
        {"200": json_response("business"), **UNAUTHORIZED, **INVALID},
        security=BUSINESS,
        tags=("businesses",),
        body=BusinessUpdate,
    ),
    Route(
        "POST",
        "/v1/customers",
        businesses.create_customer,
        "Create a customer with channels and opt-ins",
        {"201": json_response("customer"), **UNAUTHORIZED, **INVALID},
        security=BUSINESS,
        tags=("customers",),
        body=CustomerCreate,
    ),
    Route(
        "GET",
        "/v1/customers/{customer_id}",
        businesses.get_customer,
        "A customer",
        {"200": json_response("customer"), **UNAUTHORIZED, **NOT_FOUND},
        security=BUSINESS,
        tags=("customers",),
    ),
    Route(
        "PATCH",
        "/v1/customers/{customer_id}",
        businesses.update_customer,
        "Change a customer (opt-ins too)",
        {"200": json_response("customer"), **UNAUTHORIZED, **NOT_FOUND, **INVALID},
        security=BUSINESS,
        tags=("customers",),
        body=CustomerUpdate,
    ),
    Route(
        "GET",
        "/v1/notifications",
        notifications.list_notifications,
        "The notification timeline: ?entity=appointment:123&status=&customer_id=&limit=&before_id=",
        {"200": json_response("items, newest first"), **UNAUTHORIZED, **INVALID},
        security=BUSINESS,
        tags=("notifications",),
        query=NotificationListQuery,
    ),
    Route(
        "POST",
        "/v1/notifications",
        notifications.send_single,
        "Send one message to one customer",
        {
            "200": json_response("the outcome"),
            "202": json_response("scheduled or still sending"),
            **UNAUTHORIZED,
            **INVALID,
        },
        security=BUSINESS,
        tags=("notifications",),
        body=SingleNotification,
    ),
    Route(
        "POST",
        "/v1/broadcasts",
        notifications.create_broadcast,
        "Send one message to many customers",
        {"202": json_response("started"), **UNAUTHORIZED, **INVALID},
        security=BUSINESS,
        tags=("notifications",),
        body=BroadcastCreate,
    ),
    Route(
        "GET",
        "/v1/broadcasts/{broadcast_id}",
        notifications.get_broadcast,
        "A broadcast's progress or report",
        {"200": json_response("broadcast"), **UNAUTHORIZED, **NOT_FOUND},
        security=BUSINESS,
        tags=("notifications",),
    ),
    Route(
        "POST",
        "/v1/broadcasts/{broadcast_id}/cancel",
        notifications.cancel_broadcast,
        "Stop a broadcast",
        {
            "202": json_response("cancelling"),
            "409": error_response("already finished"),
            **UNAUTHORIZED,
            **NOT_FOUND,
        },
        security=BUSINESS,
        tags=("notifications",),
    ),
    Route(
        "GET",
        "/v1/templates",
        notifications.list_templates,
        "This business's template overrides",
        {"200": json_response("overrides"), **UNAUTHORIZED},
        security=BUSINESS,
        tags=("templates",),
    ),
    Route(
        "PUT",
        "/v1/templates/{event}/{channel}/{part}",
        notifications.put_template,
        "Override one part (subject, text, html) of a template; validated by rendering it",
        {"200": json_response("saved"), **UNAUTHORIZED, **NOT_FOUND, **INVALID},
        security=BUSINESS,
        tags=("templates",),
        body=TemplateOverrideBody,
    ),
    Route(
        "DELETE",
        "/v1/templates/{event}/{channel}/{part}",
        notifications.delete_template,
        "Back to the default template",
        {"204": {"description": "removed"}, **UNAUTHORIZED, **NOT_FOUND},
        security=BUSINESS,
        tags=("templates",),
    ),
    Route(
        "POST",
        "/v1/appointments",
        appointments.create,
        "Book an appointment and start its workflow; send Idempotency-Key to make retries safe",
        {
            "201": json_response("booked"),
            "200": json_response("the booking this Idempotency-Key made"),
            **UNAUTHORIZED,
            **INVALID,
        },
        security=BUSINESS,
        tags=("appointments",),
        body=AppointmentCreate,
    ),
    Route(
        "GET",
        "/v1/appointments",
        appointments.list_,
        "Appointments by start time: ?status=&from=&to=&customer_id=&limit=",
        {"200": json_response("items"), **UNAUTHORIZED, **INVALID},
        security=BUSINESS,
        tags=("appointments",),
        query=AppointmentListQuery,
    ),
    Route(
        "GET",
        "/v1/appointments/{appointment_id}",
        appointments.get,
        "The row, the workflow's state (next action and when) and the notification timeline",
        {"200": json_response("appointment"), **UNAUTHORIZED, **NOT_FOUND},
        security=BUSINESS,
        tags=("appointments",),
    ),
    *[
        Route(
            "POST",
            f"/v1/appointments/{{appointment_id}}/{verb}",
            handler,
            summary,
            {
                "200": json_response("the new state"),
                "409": error_response("not possible in this status"),
                **UNAUTHORIZED,
                **NOT_FOUND,
            },
            security=BUSINESS,
            tags=("appointments",),
        )
        for verb, handler, summary in (
            ("confirm", appointments.confirm, "Confirm a pending appointment (update `confirm`)"),
            ("check-in", appointments.check_in, "Check the customer in (update `check_in`)"),
            ("complete", appointments.complete, "Complete now (update `complete`)"),
            ("no-show", appointments.no_show, "Mark as no-show after its start (update `mark_no_show`)"),
        )
    ],
    Route(
        "POST",
        "/v1/appointments/{appointment_id}/reschedule",
        appointments.reschedule,
        "Move it (update `reschedule`): every pending timer moves, the version goes up",
        {
            "200": json_response("the new state"),
            "409": error_response("not possible in this status"),
            **UNAUTHORIZED,
            **NOT_FOUND,
            **INVALID,
        },
        security=BUSINESS,
        tags=("appointments",),
        body=Reschedule,
    ),
    Route(
        "POST",
        "/v1/appointments/{appointment_id}/cancel",
        appointments.cancel,
        "Cancel it (signal `cancel`) and return the new state",
        {
            "200": json_response("the new state"),
            "409": error_response("not cancellable"),
            **UNAUTHORIZED,
            **NOT_FOUND,
            **INVALID,
        },
        security=BUSINESS,
        tags=("appointments",),
        body=CancelBody,
    ),
    Route(
        "POST",
        "/v1/appointments/{appointment_id}/review",
        appointments.review,
        "Record a review (1-5 stars) of a completed appointment; returns the business's new rating",
        {
            "201": json_response("rating statistics"),
            "409": error_response("not completed, or reviewed"),
            **UNAUTHORIZED,
            **NOT_FOUND,
            **INVALID,
        },
        security=BUSINESS,
        tags=("appointments",),
        body=ReviewBody,
    ),
    Route(
        "GET",
        "/v1/jobs",
        jobs.list_jobs,
        "Batch jobs (Temporal Schedules): paused or not, next runs, recent runs with their results",
        {"200": json_response("jobs"), **UNAUTHORIZED},
        security=ADMIN,
        tags=("jobs",),
    ),
    *[
        Route(
            "POST",
            f"/v1/jobs/{{name}}/{verb}",
            handler,
            summary,
            {"200": json_response("the job"), "202": json_response("triggered"), **UNAUTHORIZED, **NOT_FOUND},
            security=ADMIN,
            tags=("jobs",),
        )
        for verb, handler, summary in (
            ("trigger", jobs.trigger, "Run the job now (overlap policy still applies)"),
            ("pause", jobs.pause, "Pause the job's schedule"),
            ("resume", jobs.resume, "Resume the job's schedule"),
        )
    ],
    Route(
        "POST",
        "/v1/pets",
        vaccinations.create_pet,
        "Register a pet of a customer",
        {"201": json_response("pet"), **UNAUTHORIZED, **INVALID},
        security=BUSINESS,
        tags=("vaccinations",),
        body=PetCreate,
    ),
    Route(
        "POST",
        "/v1/vaccinations",
        vaccinations.create_vaccination,
        "Register a vaccination record; supersedes the pet's active record of the same vaccine",
        {"201": json_response("record"), **UNAUTHORIZED, **INVALID},
        security=BUSINESS,
        tags=("vaccinations",),
        body=VaccinationCreate,
    ),
    Route(
        "GET",
        "/v1/vaccinations/upcoming",
        vaccinations.upcoming,
        "Active records expiring within ?within_days= (default 30), soonest first",
        {"200": json_response("items"), **UNAUTHORIZED, **INVALID},
        security=BUSINESS,
        tags=("vaccinations",),
        query=UpcomingVaccinationsQuery,
    ),
    Route(
        "GET",
        "/v1/vaccinations/{vaccination_id}",
        vaccinations.get_vaccination,
        "A record with its workflow's state (next alert and when, what was sent)",
        {"200": json_response("record"), **UNAUTHORIZED, **NOT_FOUND},
        security=BUSINESS,
        tags=("vaccinations",),
    ),
    Route(
        "POST",
        "/v1/webhooks/sms/status",
        webhooks.sms_status,
        "Twilio status callback (X-Twilio-Signature): sent -> delivered/failed",
        {"204": {"description": "applied"}, "403": error_response("bad signature")},
        tags=("webhooks",),
    ),
    Route(
        "POST",
        "/v1/webhooks/sms/inbound",
        webhooks.sms_inbound,
        "Inbound SMS (X-Twilio-Signature): STOP opts the number out of SMS, START opts it back in",
        {"200": {"description": "TwiML"}, "403": error_response("bad signature")},
        tags=("webhooks",),
    ),
    Route(
        "POST",
        "/v1/webhooks/push/status",
        webhooks.push_status,
        "Push receipt, JSON signed with X-Keeptime-Signature (hex HMAC-SHA256 of the body)",
        {"204": {"description": "applied"}, "403": error_response("bad signature"), **NOT_FOUND, **INVALID},
        tags=("webhooks",),
        body=PushReceipt,
    ),
]


def _policy_route(
    method: str, path: str, handler: Handler, summary: str, responses: dict[str, Any], **extra: Any
) -> Route:
    return Route(method, path, handler, summary, {**responses, **UNAUTHORIZED}, security=BUSINESS, **extra)


POLICY_ROUTES: list[Route] = [
    _policy_route(
        "POST",
        "/v1/policies",
        policies.create_policy,
        "Create a policy; its workflow (policy-<id>) plans the renewal calls and the expiry",
        {"201": json_response("policy"), "409": error_response("policy_number taken"), **INVALID},
        tags=("policies",),
        body=PolicyCreate,
    ),
    _policy_route(
        "GET",
        "/v1/policies",
        policies.list_policies,
        "Policies, soonest end date first (?status=, ?limit=)",
        {"200": json_response("items"), **INVALID},
        tags=("policies",),
        query=PolicyListQuery,
    ),
    _policy_route(
        "GET",
        "/v1/policies/{policy_id}",
        policies.get_policy,
        "A policy with its calls and its workflow's state (phase, next call and why)",
        {"200": json_response("policy"), **NOT_FOUND},
        tags=("policies",),
    ),
    _policy_route(
        "PATCH",
        "/v1/policies/{policy_id}",
        policies.patch_policy,
        "Change an active policy; a new end_date moves its calls and expiry",
        {"200": json_response("policy"), "409": error_response("not active"), **NOT_FOUND, **INVALID},
        tags=("policies",),
        body=PolicyUpdate,
    ),
    _policy_route(
        "POST",
        "/v1/policies/{policy_id}/cancel",
        policies.cancel,
        "Cancel the policy: no more calls, its workflow ends",
        {"200": json_response("policy"), **NOT_FOUND},
        tags=("policies",),
    ),
    _policy_route(
        "POST",
        "/v1/policies/{policy_id}/stop-calls",
        policies.stop_calls,
        "No more calls this term; the policy still renews or expires",
        {"200": json_response("policy"), **NOT_FOUND},
        tags=("policies",),
    ),
    _policy_route(
        "POST",
        "/v1/calls",
        calls.schedule_call,
        "Schedule a manual call (refused within skip_if_called_within_days of another call)",
        {"201": json_response("call"), "409": error_response("skip window or policy not active"), **INVALID},
        tags=("calls",),
        body=ManualCallCreate,
    ),
    _policy_route(
        "GET",
        "/v1/calls",
        calls.list_calls,
        "Calls, newest first (?status=, ?policy_id=, ?from=, ?to=, ?limit=)",
        {"200": json_response("items"), **INVALID},
        tags=("calls",),
        query=CallListQuery,
    ),
    _policy_route(
        "DELETE",
        "/v1/calls/{call_id}",
        calls.cancel_call,
        "Cancel a scheduled manual call",
        {"200": json_response("call"), "409": error_response("already placed"), **NOT_FOUND},
        tags=("calls",),
    ),
    _policy_route(
        "PUT",
        "/v1/calls/{call_id}/summary",
        calls.put_summary,
        "The voice agent's call summary; renewal_agreed renews the policy (idempotent)",
        {"200": json_response("call"), "409": error_response("call not answered"), **NOT_FOUND, **INVALID},
        tags=("calls",),
        body=CallSummaryBody,
    ),
    _policy_route(
        "POST",
        "/v1/calls/cleanup",
        calls.cleanup_calls,
        "Delete finished call records older than older_than_days (default 30)",
        {"200": json_response("deleted count"), **INVALID},
        tags=("calls",),
        body=CallCleanupBody,
    ),
    _policy_route(
        "GET",
        "/v1/scheduler/config",
        scheduler.get_config,
        "The call scheduler's settings",
        {"200": json_response("config")},
        tags=("scheduler",),
        result=CallSchedulerConfig,
    ),
    *(
        _policy_route(
            method,
            "/v1/scheduler/config",
            scheduler.put_config,
            "Change settings as a JSON Merge Patch (RFC 7396): fields left out keep their values, null "
            "resets one to its default; running policy workflows re-plan",
            {"200": json_response("config"), **INVALID},
            tags=("scheduler",),
            body=CallSchedulerConfig,
        )
        for method in ("PUT", "PATCH")
    ),
    _policy_route(
        "GET",
        "/v1/scheduler/pending",
        scheduler.pending,
        "Customers who will be called within ?within_days= (default 7): who, why, when",
        {"200": json_response("items"), **INVALID},
        tags=("scheduler",),
        query=PendingCallsQuery,
    ),
    _policy_route(
        "GET",
        "/v1/scheduler/stats",
        scheduler.stats,
        "Today's calls (business-local day): scheduled, pending, in progress, completed, failed, next call",
        {"200": json_response("statistics")},
        tags=("scheduler",),
    ),
    _policy_route(
        "POST",
        "/v1/scheduler/trigger",
        scheduler.trigger,
        "Call now every policy planned up to within_days after today (the caps still apply)",
        {"202": json_response("triggered policies"), **INVALID},
        tags=("scheduler",),
        body=TriggerCallsBody,
    ),
]
ROUTES.extend(POLICY_ROUTES)
ROUTES.extend(
    [
        Route(
            "GET",
            "/v1/businesses/me/stats",
            stats.business_stats,
            "This business's figures, recomputed now (also stored daily by the business-stats job)",
            {"200": json_response("statistics"), **UNAUTHORIZED},
            security=BUSINESS,
            tags=("statistics",),
        ),
        Route(
            "GET",
            "/v1/stats/platform",
            stats.platform_stats,
            "The platform's daily figures (platform-daily-stats job), newest first (?days=30)",
            {"200": json_response("items"), **UNAUTHORIZED, **INVALID},
            security=ADMIN,
            tags=("statistics",),
            query=PlatformStatsQuery,
        ),
    ]
)


def setup_routes(app: web.Application) -> None:
    """Register every route and build the OpenAPI document from the same declarations and models."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
        paths.setdefault(route.path, {})[route.method.lower()] = operation(route, schemas)
    app[OPENAPI] = build_document(paths, schemas)
