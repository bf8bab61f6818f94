"""Notification activities: plan (quiet hours), send (idempotent, fresh, with fallback), broadcast batches.

``send_notification`` in order: a settled message returns its first outcome; the entity row is share-locked
and re-read (cancelled, rescheduled or completed -> ``skipped``); then each usable channel in the customer's
order: claim ``message_key:channel`` in the log (committed), render, take a rate-limit token, call the
provider with the key, record the provider's id. Transient errors raise for Temporal to retry (honouring
Retry-After); permanent ones (and transient ones on the last attempt) fail that channel and fall back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import ambiguity
from activities.attempts import bounded_attempt
from activities.metrics import record_message, record_provider_call
from activities.notification_context import MessageContext, load_message_context, recipient_zone
from activities.notification_store import (
    begin_attempt,
    claim,
    fail_if_still_queued,
    final_outcome,
    mark_failed,
    mark_sent,
    prior_outcomes,
    record_error,
    record_skip,
    reopen_failed,
    reread,
    result_of,
    retry_candidates,
)
from activities.providers import (
    AmbiguousProviderError,
    Delivery,
    Guarantees,
    PermanentProviderError,
    Provider,
    RenderedMessage,
    TransientProviderError,
)
from activities.rate_limit import ProviderRateLimiter
from activities.templates import TemplateRenderError, render_message
from db.engine import SessionFactory, is_database_unavailable, pool_size, statement_session_factory
from db.models import Broadcast, BroadcastRecipient, Business, Customer, NotificationLog
from domain.automation import AutomationSettings
from domain.job_types import JobBatchInput, JobBatchResult
from domain.notification_events import delivery_instant, event_spec
from domain.notification_types import (
    BroadcastBatchInput,
    BroadcastProgress,
    DeliveryPlan,
    FinishBroadcastInput,
    NotificationRequest,
    NotificationResult,
    PlanNotificationInput,
)
from domain.statuses import NO_FALLBACK, OUTCOME_UNKNOWN, NotificationStatus
from keeptime.settings import Settings

RETRY_MAX_ATTEMPTS = 3  # the sweep retries a failed delivery while it has had fewer attempts than this
log = logging.getLogger("keeptime.notifications")

_INLINE_TRIES = 4
_INLINE_MAX_WAIT_S = 5.0

Checkpoint = Callable[[str], None]
"""Called at each step (``claimed``, ``provider_accepted``, ``logged``); tests use it to crash there."""


class TransientDeliveryError(Exception):
    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def planning_clock() -> datetime:
    """This worker's clock, as a plan records it (``DeliveryPlan.planned_at``)."""
    return datetime.now(UTC)


class NotificationActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        settings: Settings,
        providers: dict[str, Provider],
        *,
        checkpoint: Checkpoint | None = None,
        concurrency: int = 16,
    ) -> None:
        self._sessions = sessions
        # the notification log: each write is one statement committed on its own (db.engine)
        self._log_sessions = statement_session_factory(sessions)
        self._settings = settings
        self._providers = providers
        self._checkpoint = checkpoint or (lambda step: None)
        self._concurrency = concurrency
        # Every delivery holds two connections of the one pool at once (the log's, then the entity's share
        # lock). With as many deliveries in flight as the pool has connections, each holds its first and
        # waits for its second: nothing moves until SQLAlchemy's pool timeout (30 s), and every other
        # activity of the process waits too (seen: the health check, 504 in the fuzz run). So at most
        # (pool - DB_RESERVE) / 2 deliveries run at once in a process, and DB_RESERVE connections stay for
        # everything else.
        self._deliveries = asyncio.Semaphore(delivery_slots(sessions))
        self._limiter = ProviderRateLimiter(
            sessions,
            {
                "smtp": settings.email_rate_per_s,
                "twilio": settings.sms_rate_per_s,
                "telnyx": settings.sms_rate_per_s,  # whichever carries the SMS: one rate for the channel
                "fcm": settings.push_rate_per_s,
            },
        )

    @activity.defn
    async def plan_notification(self, plan: PlanNotificationInput) -> DeliveryPlan:
        """When to deliver a message planned for ``planned_for``, quiet hours applied (recipient zone), and
        this worker's clock once that is known (``planned_at``)."""
        decided = await self._delivery_plan(plan)
        decided.planned_at = planning_clock()
        return decided

    async def _delivery_plan(self, plan: PlanNotificationInput) -> DeliveryPlan:
        request = plan.request
        if not event_spec(request.event).quiet_hours:
            return DeliveryPlan(deliver_at=plan.planned_for)
        async with self._sessions() as session:
            business = await session.get(Business, request.business_id)
            customer = await session.get(Customer, request.customer_id) if request.customer_id else None
            if business is None:
                return DeliveryPlan(deliver_at=None, skipped=_unloggable(request, "business_missing"))
            deliver_at = delivery_instant(
                request,
                plan.planned_for,
                now=plan.now,
                zone=recipient_zone(customer, business),
                quiet=AutomationSettings.from_stored(business.automation).settings.quiet_hours,
            )
            if deliver_at is None:
                return DeliveryPlan(
                    deliver_at=None, skipped=await record_skip(session, request, "quiet_hours")
                )
        return DeliveryPlan(deliver_at=deliver_at)

    @activity.defn
    async def send_notification(self, request: NotificationRequest) -> NotificationResult:
        """One attempt; transient failures raise for Temporal to retry. Data no retry can fix (a row that
        is bad anyway) fails this one message, recorded with the reason, instead of failing the workflow."""
        try:
            async with bounded_attempt():
                result = await self.deliver(request, final_attempt=_is_final_attempt())
            record_message(request, result)
            return result
        except TransientDeliveryError as exc:
            delay = timedelta(seconds=exc.retry_after_s) if exc.retry_after_s is not None else None
            raise ApplicationError(str(exc), type="TransientDeliveryError", next_retry_delay=delay) from exc
        except Exception as exc:
            if is_database_unavailable(exc) or isinstance(exc, aiohttp.ClientError):
                raise
            log.exception("%s failed on bad data", request.message_key())
            async with self._sessions() as session:
                result = await record_skip(
                    session, request, "bad_data", failed=True, detail=f"{type(exc).__name__}: {exc}"
                )
            record_message(request, result)
            return result

    async def deliver(self, request: NotificationRequest, *, final_attempt: bool) -> NotificationResult:
        """Deliver one message exactly once (see the module docstring); the core of every send."""
        while True:  # waiting for a slot is progress too: the activity keeps heartbeating meanwhile
            try:
                await asyncio.wait_for(self._deliveries.acquire(), _GATE_HEARTBEAT_S)
                break
            except TimeoutError:
                _heartbeat("waiting for a delivery slot")
        try:
            return await self._deliver(request, final_attempt=final_attempt)
        finally:
            self._deliveries.release()

    async def _deliver(self, request: NotificationRequest, *, final_attempt: bool) -> NotificationResult:
        spec = event_spec(request.event)
        message_key = request.message_key()
        async with self._log_sessions() as log_session:
            settled, already_failed = await prior_outcomes(log_session, message_key)
            if settled is not None:
                return result_of(settled)
            if request.deadline is not None and datetime.now(UTC) >= request.deadline:
                return await record_skip(log_session, request, "too_late")
            async with self._sessions() as guard, guard.begin():
                context = await load_message_context(guard, request, spec, self._settings)
                if context is None:
                    if await log_session.get(Business, request.business_id) is None:
                        return _unloggable(request, "business_missing")
                    return await record_skip(log_session, request, "entity_missing")
                if context.stale_reason is not None:
                    return await record_skip(log_session, request, context.stale_reason)
                if not context.channels:
                    return await record_skip(log_session, request, "no_channel")
                errors: list[str] = []
                for channel in context.channels:
                    if channel in already_failed:
                        continue
                    result = await self._deliver_on(log_session, request, context, channel, final_attempt)
                    if result.status == "sent" or result.reason in NO_FALLBACK:
                        return result  # it may have arrived: no fallback channel either
                    errors.append(f"{channel}: {result.reason}")
            return NotificationResult(
                status="failed", message_key=message_key, reason="all_channels_failed: " + "; ".join(errors)
            )

    async def _deliver_on(
        self,
        log_session: AsyncSession,
        request: NotificationRequest,
        context: MessageContext,
        channel: str,
        final_attempt: bool,
    ) -> NotificationResult:
        assert context.contact is not None
        provider = self._providers[channel]
        row = await claim(log_session, request, channel, provider.name)
        self._checkpoint("claimed")
        if row.in_flight_since is not None and final_attempt:
            # The last try (and the retry sweep) has no later attempt to hand a wait to: outlast the one
            # that may still be talking to the provider here, then decide by what it left.
            row = await self._outlast_previous_attempt(log_session, row, provider.guarantees)
            if row.status in (NotificationStatus.SENT, NotificationStatus.DELIVERED):
                return result_of(row)
            if row.status == NotificationStatus.FAILED and row.in_flight_since is None:
                # it ended failed on this channel (rejected, undelivered): as ``prior_outcomes`` would have
                # found had it ended before this attempt began, the next channel carries the message
                return result_of(row)
        seen_in_flight = row.in_flight_since  # as claimed (a re-read below may refresh the object)
        if row.rendered is not None:  # every resend sends the bytes of the first attempt
            message = RenderedMessage(**row.rendered)
        else:
            try:
                message = render_message(
                    request.event,
                    channel,
                    context.template,
                    context.overrides.get(channel),
                    locale=context.template["customer"]["locale"],
                )
            except TemplateRenderError as exc:
                await mark_failed(log_session, row.id, str(exc), "template_error")
                return NotificationResult(
                    status="failed", message_key=row.message_key, channel=channel, reason="template_error"
                )
        delivery = Delivery(
            address=context.contact.addresses[channel],
            message=message,
            idempotency_key=row.idempotency_key,
            status_callback=self._status_callback(row.id) if channel == "sms" else None,
            unsubscribe_url=message.unsubscribe_url,
            resend=seen_in_flight is not None,
        )
        if seen_in_flight is not None:  # the last attempt may have reached the provider
            category = event_spec(request.event).category
            decision = await ambiguity.resolve(
                log_session, row, provider, delivery, category, self._settings, final_attempt=final_attempt
            )
            if decision.result is not None:
                return decision.result
            if decision.wait_s is not None:
                raise TransientDeliveryError(
                    f"{channel} via {provider.name}: the last attempt's outcome is unknown; waiting for its "
                    "receipt",
                    decision.wait_s,
                )
        await self._limiter.acquire(provider.name, on_wait=_heartbeat, session=log_session)
        first = dataclasses.asdict(message) if row.rendered is None else None
        if not await begin_attempt(log_session, row.id, seen_in_flight, first):
            raise TransientDeliveryError(
                f"{channel} via {provider.name}: another attempt of this message began meanwhile", 5.0
            )
        began = time.monotonic()
        try:
            provider_message_id = await provider.send(delivery)
        except PermanentProviderError as exc:
            record_provider_call(provider.name, "rejected", time.monotonic() - began)
            await mark_failed(log_session, row.id, str(exc), "provider_rejected")
            log.warning("%s on %s rejected: %s", row.message_key, channel, exc)
            return NotificationResult(
                status="failed", message_key=row.message_key, channel=channel, reason="provider_rejected"
            )
        except TransientProviderError as exc:
            ambiguous = isinstance(exc, AmbiguousProviderError)
            outcome = "ambiguous" if ambiguous else "transient"
            record_provider_call(provider.name, outcome, time.monotonic() - began)
            if final_attempt:
                # Not taken: the next channel may carry it. Maybe taken: no other channel may (it could
                # arrive twice, on two channels); the retry sweep resolves it before sending again.
                reason = OUTCOME_UNKNOWN if ambiguous else "provider_unavailable"
                await mark_failed(
                    log_session,
                    row.id,
                    f"gave up after {row.attempts} attempts: {exc}",
                    reason,
                    ambiguous=ambiguous,
                )
                return NotificationResult(
                    status="failed", message_key=row.message_key, channel=channel, reason=reason
                )
            await record_error(log_session, row.id, str(exc), ambiguous=ambiguous)
            raise TransientDeliveryError(f"{channel} via {provider.name}: {exc}", exc.retry_after_s) from exc
        record_provider_call(provider.name, "ok", time.monotonic() - began)
        self._checkpoint("provider_accepted")
        sent = await mark_sent(log_session, row.id, provider_message_id)
        self._checkpoint("logged")
        return result_of(sent)

    async def _outlast_previous_attempt(
        self, log_session: AsyncSession, row: NotificationLog, guarantees: Guarantees
    ) -> NotificationLog:
        """Wait (heartbeating) until the attempt that set ``in_flight_since`` can no longer be talking to
        the provider, then the row as it left it (sent, or still in flight: ambiguous)."""
        while (left := ambiguity.still_running_for(row, self._settings, guarantees)) > 0:
            _heartbeat()
            await asyncio.sleep(min(left, 1.0))
            row = await reread(log_session, row.id)
            if row.in_flight_since is None:
                break
        return row

    def _status_callback(self, log_id: int) -> str:
        """Twilio's per-message StatusCallback, naming our log row: a receipt for an attempt whose answer was
        lost names the message. Twilio signs the whole URL it was given, query included; digits need no
        escaping, so the URL we verify against is byte for byte the one Twilio signed."""
        base = self._settings.public_base_url.rstrip("/")
        return f"{base}/v1/webhooks/sms/status?log={log_id}"

    @activity.defn
    async def retry_failed_batch(self, batch: JobBatchInput) -> JobBatchResult:
        """The retry sweep: failed deliveries younger than the cut-off with fewer than ``RETRY_MAX_ATTEMPTS``
        attempts, failed because the provider was unavailable, go through ``deliver`` once more.

        A message another channel already delivered is left alone; the row is re-opened with a conditional
        update (one sweep wins); ``deliver`` re-checks the entity and claims the same idempotency key, so the
        sweep can never send a message twice."""
        began = time.monotonic()
        async with self._sessions() as session:
            rows = await retry_candidates(
                session, batch.after, datetime.fromisoformat(batch.cutoff), RETRY_MAX_ATTEMPTS, batch.limit
            )
        sent, errors, details = 0, 0, []
        for row_id, payload, message_key in rows:
            _heartbeat(row_id)
            async with self._sessions() as session:
                if await final_outcome(session, message_key) is not None or not await reopen_failed(
                    session, row_id
                ):
                    continue
            try:
                result = await self.deliver(NotificationRequest.model_validate(payload), final_attempt=True)
            except Exception as exc:  # one bad row must not stop the sweep; it is reported
                errors += 1
                details.append(f"row {row_id}: {exc!r}"[:300])
                result = NotificationResult(status="failed", message_key=message_key, reason=repr(exc)[:200])
            async with self._sessions() as session:
                await fail_if_still_queued(session, row_id, f"retry: {result.reason}", "retry_not_sent")
            sent += result.status == "sent"
        return JobBatchResult(
            scanned=len(rows),
            changed=sent,
            last=rows[-1][0] if rows else batch.after,
            done=len(rows) < batch.limit,
            seconds=round(time.monotonic() - began, 4),
            errors=errors,
            details=details,
        )

    @activity.defn
    async def send_broadcast_batch(self, batch: BroadcastBatchInput) -> BroadcastProgress:
        """Send to the next ``limit`` recipients after ``after_customer_id``, a few at a time.

        A retried batch starts over from ``after_customer_id``: recipients already served return their
        settled outcome from the log without a send, so the counts stay exact and nobody gets two messages.
        """
        async with self._sessions() as session:
            customer_ids = list(
                (
                    await session.execute(
                        select(BroadcastRecipient.customer_id)
                        .where(
                            BroadcastRecipient.broadcast_id == batch.broadcast_id,
                            BroadcastRecipient.customer_id > batch.after_customer_id,
                        )
                        .order_by(BroadcastRecipient.customer_id)
                        .limit(batch.limit)
                    )
                ).scalars()
            )
        final_attempt = _is_final_attempt()
        slots = asyncio.Semaphore(self._concurrency)

        async def one(customer_id: int) -> NotificationResult:
            async with slots:  # a slow or retrying recipient holds one slot, not the whole batch
                result = await self._deliver_in_batch(_broadcast_request(batch, customer_id), final_attempt)
                _heartbeat()
                return result

        outcomes = await asyncio.gather(*(one(c) for c in customer_ids), return_exceptions=True)
        counts = {"sent": 0, "skipped": 0, "failed": 0}
        transient: TransientDeliveryError | None = None
        for outcome in outcomes:
            if isinstance(outcome, TransientDeliveryError):
                transient = outcome
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                counts["sent" if outcome.status == "delivered" else outcome.status] += 1
        if transient is not None:
            raise ApplicationError(f"retrying the batch: {transient}", type="TransientDeliveryError")
        return BroadcastProgress(
            **counts,
            last_customer_id=customer_ids[-1] if customer_ids else batch.after_customer_id,
            done=len(customer_ids) < batch.limit,
        )

    async def _deliver_in_batch(
        self, request: NotificationRequest, final_attempt: bool
    ) -> NotificationResult:
        """In a batch, a recipient's transient error is retried here first (briefly, honouring Retry-After),
        so one flaky request does not send the whole batch into Temporal's backoff."""
        for attempt in range(1, _INLINE_TRIES + 1):
            last = attempt == _INLINE_TRIES
            try:
                return await self.deliver(request, final_attempt=final_attempt and last)
            except TransientDeliveryError as exc:
                if last:
                    raise
                _heartbeat()
                await asyncio.sleep(min(exc.retry_after_s or 0.25 * 2**attempt, _INLINE_MAX_WAIT_S))
        raise AssertionError("unreachable")

    @activity.defn
    async def finish_broadcast(self, finish: FinishBroadcastInput) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Broadcast)
                .where(Broadcast.id == finish.broadcast_id)
                .values(
                    status=finish.status, report=finish.progress.model_dump(), finished_at=datetime.now(UTC)
                )
            )


def _unloggable(request: NotificationRequest, reason: str) -> NotificationResult:
    """A skip that cannot be logged: the business (and with it the log's tenant) is gone."""
    log.warning("%s skipped: %s", request.message_key(), reason)
    return NotificationResult(status="skipped", message_key=request.message_key(), reason=reason)


def _broadcast_request(batch: BroadcastBatchInput, customer_id: int) -> NotificationRequest:
    return NotificationRequest(
        business_id=batch.business_id,
        entity_type="broadcast",
        entity_id=batch.broadcast_id,
        event="broadcast.message",
        customer_id=customer_id,
    )


DB_RESERVE = 5  # connections a worker process keeps for everything but deliveries
_GATE_HEARTBEAT_S = 5.0


def delivery_slots(sessions: SessionFactory) -> int:
    """How many deliveries may run at once on this pool: each holds two connections."""
    return max(1, (pool_size(sessions) - DB_RESERVE) // 2)


def _is_final_attempt() -> bool:
    if not activity.in_activity():
        return True
    info = activity.info()
    maximum = info.retry_policy.maximum_attempts if info.retry_policy else 0
    return bool(maximum) and info.attempt >= maximum


def _heartbeat(*details: object) -> None:
    if activity.in_activity():
        activity.heartbeat(*details)
