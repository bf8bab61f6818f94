"""An attempt whose outcome is unknown, resolved before anything is sent again.

The log row's ``in_flight_since`` is committed before the provider is called and cleared when its answer is
recorded. Still set when the next attempt claims the row: the last one may have reached the provider (the
worker was killed mid-request, the answer was lost, the provider timed out). Before a resend:

0. the last attempt may still be running: Temporal starts a retry when a heartbeat timeout passes, also when
   the worker is only busy, not dead. An attempt's provider call ends within ``provider_timeout_s``, so until
   that (and a second) has passed since ``in_flight_since`` a retry waits for it (a final attempt and the
   retry sweep wait in place: ``still_running_for``) rather than guess. With a key-replaying provider it
   waits ``keyed_resend_after_s`` (45 s): the provider may still be processing the first request after our
   client gave up, and its record of the key exists only once that request's response does;
1. the provider honours an idempotency key (``Guarantees.idempotency_header``) and still remembers it
   (``idempotency_window_s``: Telnyx, 24 h): resend with the same key and the same stored bytes;
2. the provider's status for it is known, from a receipt (the status callback URL names our message) or
   from asking the provider (``Provider.lookup``: Twilio's Messages list): a status that says the provider
   took it (``queued`` ... ``delivered``, as the lost 201 would have said) confirms it; ``failed`` /
   ``undelivered`` say it never arrived, so the next channel is tried (never "sent by receipt"); a status
   we do not know waits for a known one, and at the end of the window it is not resent;
3. the provider sends receipts and the window (``ambiguous_wait_s``) is not over: wait for it (retry later);
   once it is over, a lookup that finds nothing means the provider never made the message: resend;
4. neither a receipt nor the provider answers: the message category's policy: ``prefer_duplicate`` resends,
   ``prefer_missing`` does not (and no other channel is tried: it may have arrived).

Each outcome is written to the row's ``resolution`` (the timeline shows it). The entity was re-read under a
share lock before this runs, so nothing is sent after a cancel in any branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from activities.notification_store import mark_failed, mark_sent, reread, result_of, set_resolution
from activities.providers import Delivery, Found, Guarantees, NoLookup, Provider, TransientProviderError
from db.models import NotificationLog
from db.notification_queries import record_provider_id
from domain.notification_types import NotificationResult
from domain.statuses import ACCEPTED_RECEIPTS, FAILED_RECEIPTS, NOT_RESENT
from keeptime.settings import Settings

STILL_RUNNING_MARGIN_S = 1.0  # beyond the provider call's own timeout
KEY_WINDOW_MARGIN_S = 3600.0  # a key this close to the provider forgetting it is treated as forgotten


@dataclass(frozen=True)
class Resolution:
    """``resend``: go ahead and send; ``result``: settled without sending; ``wait_s``: try again later."""

    resend: bool = False
    result: NotificationResult | None = None
    wait_s: float | None = None


def still_running_for(row: NotificationLog, settings: Settings, guarantees: Guarantees) -> float:
    """Seconds for which the attempt that set ``in_flight_since`` may still be talking to the provider, or
    (a provider with an idempotency key) the provider may still be processing it without a record of its
    key: a resend then would be a second request with the key while the first runs, which Telnyx does not
    document (``Settings.keyed_resend_after_s``)."""
    assert row.in_flight_since is not None
    running_for = (datetime.now(UTC) - row.in_flight_since).total_seconds()
    limit = settings.provider_timeout_s + STILL_RUNNING_MARGIN_S
    if guarantees.idempotency_header is not None:
        limit = max(limit, settings.keyed_resend_after_s)
    return limit - running_for


async def resolve(
    session: AsyncSession,
    row: NotificationLog,
    provider: Provider,
    delivery: Delivery,
    category: str,
    settings: Settings,
    *,
    final_attempt: bool,
) -> Resolution:
    guarantees = provider.guarantees
    assert row.in_flight_since is not None
    may_still_run = still_running_for(row, settings, guarantees)
    if may_still_run > 0:
        return Resolution(wait_s=may_still_run)  # a final attempt outlasts it before calling this
    waited = (datetime.now(UTC) - row.in_flight_since).total_seconds()
    window_s = guarantees.idempotency_window_s
    if guarantees.idempotency_header and (window_s is None or waited < window_s - KEY_WINDOW_MARGIN_S):
        await set_resolution(
            session, row.id, f"ambiguous -> resent with the same {guarantees.idempotency_header}"
        )
        return Resolution(resend=True)
    fresh = await reread(session, row.id)
    window = settings.ambiguous_wait_s
    waiting_is_over = final_attempt or not guarantees.receipt_carries_key or waited >= window
    if fresh.provider_message_id or fresh.receipt_status:
        return await _by_status(session, fresh, provider, "receipt", waiting_is_over, window - waited)
    asked = await _ask(provider, delivery)
    if isinstance(asked, Found):
        await record_provider_id(session, row.id, provider.name, asked.provider_message_id, asked.status)
        fresh = await reread(session, row.id)
        return await _by_status(session, fresh, provider, "lookup", waiting_is_over, window - waited)
    if not waiting_is_over:
        return Resolution(wait_s=max(1.0, window - waited))
    if asked == "not found" and waited >= window:
        # The provider's list has every message it made (the create call makes the resource), and the
        # window let a slow create finish: resending makes the only one.
        await set_resolution(session, row.id, f"ambiguous -> not found by {provider.name}'s lookup -> resent")
        return Resolution(resend=True)
    why = _why_unknown(provider, window, asked)
    if settings.ambiguous_policy.get(category, "prefer_duplicate") == "prefer_duplicate":
        await set_resolution(session, row.id, f"ambiguous -> {why} -> resent (prefer_duplicate)")
        return Resolution(resend=True)
    return await _not_resent(session, row, provider, f"ambiguous -> {why} -> not resent (prefer_missing)")


async def _ask(provider: Provider, delivery: Delivery) -> Found | str:
    """The provider's own answer: the message it has, ``"not found"``, or why it could not be asked."""
    if isinstance(provider, NoLookup):
        return "cannot be asked"
    try:
        found = await provider.lookup(delivery)
    except TransientProviderError as exc:
        return f"lookup failed ({str(exc)[:60]})"
    return found if found is not None else "not found"


def _why_unknown(provider: Provider, window: float, asked: str) -> str:
    receipts = f"no receipt in {window:g} s" if provider.guarantees.receipt_carries_key else "no receipts"
    lookup = f"{provider.name} cannot be asked" if asked == "cannot be asked" else f"lookup: {asked}"
    return f"{receipts}, {lookup}"


async def _by_status(
    session: AsyncSession,
    row: NotificationLog,
    provider: Provider,
    source: str,
    waiting_is_over: bool,
    wait_s: float,
) -> Resolution:
    """Decide by the provider's status of the message, as the row has it (``receipt_status`` None: it has an
    id, but no status is known)."""
    status = row.receipt_status
    if status in ACCEPTED_RECEIPTS and row.provider_message_id:
        sent = await mark_sent(
            session,
            row.id,
            row.provider_message_id,
            resolution=f"ambiguous -> confirmed {status} by {source}",
        )
        return Resolution(result=result_of(sent))
    if status in FAILED_RECEIPTS:
        resolution = f"ambiguous -> {source}: {status} -> next channel"
        await mark_failed(
            session, row.id, f"{provider.name} reported {status}", "undelivered", resolution=resolution
        )
        return _failed(row, provider, "undelivered")
    if not waiting_is_over:
        return Resolution(wait_s=max(1.0, wait_s))
    return await _not_resent(
        session,
        row,
        provider,
        f"ambiguous -> {source}: {provider.name} holds it ({status or 'accepted'}), no final status"
        " -> not resent",
    )


async def _not_resent(
    session: AsyncSession, row: NotificationLog, provider: Provider, resolution: str
) -> Resolution:
    await mark_failed(session, row.id, resolution, NOT_RESENT, resolution=resolution)
    return _failed(row, provider, NOT_RESENT)


def _failed(row: NotificationLog, provider: Provider, reason: str) -> Resolution:
    return Resolution(
        result=NotificationResult(
            status="failed",
            message_key=row.message_key,
            channel=row.channel.value if row.channel else None,
            provider=provider.name,
            provider_message_id=row.provider_message_id,
            reason=reason,
        )
    )
