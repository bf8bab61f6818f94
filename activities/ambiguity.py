"""An attempt whose outcome is unknown, resolved before anything is sent again.

The log row's ``in_flight_since`` is committed before the provider is called and cleared when its answer is
recorded. Still set when the next attempt claims the row: the last one may have reached the provider (the
worker was killed mid-request, the answer was lost, the provider timed out). Before a resend:

0. the last attempt may still be running: Temporal starts a retry when a heartbeat timeout passes, also when
   the worker is only busy, not dead. An attempt's provider call ends within ``provider_timeout_s``, so until
   that (and a second) has passed since ``in_flight_since``, wait (retry later) rather than guess;
1. the provider honours an idempotency key (``Guarantees.idempotency_header``): resend with the same key;
2. a receipt came for it (the status callback URL names our message): it was sent, nothing more to do;
3. the provider sends receipts and the window (``ambiguous_wait_s``) is not over: wait for it (retry later);
4. else the message category's policy: ``prefer_duplicate`` resends, ``prefer_missing`` does not.

Each outcome is written to the row's ``resolution`` (the timeline shows it). The entity was re-read under a
share lock before this runs, so nothing is sent after a cancel in any branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from activities.notification_store import mark_failed, mark_sent, reread, result_of, set_resolution
from activities.providers import Provider
from db.models import NotificationLog
from domain.notification_types import NotificationResult
from keeptime.settings import Settings

NOT_RESENT = "ambiguous_not_resent"
STILL_RUNNING_MARGIN_S = 1.0  # beyond the provider call's own timeout


@dataclass(frozen=True)
class Resolution:
    """``resend``: go ahead and send; ``result``: settled without sending; ``wait_s``: try again later."""

    resend: bool = False
    result: NotificationResult | None = None
    wait_s: float | None = None


async def resolve(
    session: AsyncSession,
    row: NotificationLog,
    provider: Provider,
    category: str,
    settings: Settings,
    *,
    final_attempt: bool,
) -> Resolution:
    guarantees = provider.guarantees
    assert row.in_flight_since is not None
    running_for = (datetime.now(UTC) - row.in_flight_since).total_seconds()
    may_still_run = settings.provider_timeout_s + STILL_RUNNING_MARGIN_S - running_for
    if may_still_run > 0 and not final_attempt:
        return Resolution(wait_s=may_still_run)
    if guarantees.idempotency_header:
        await set_resolution(
            session, row.id, f"ambiguous -> resent with the same {guarantees.idempotency_header}"
        )
        return Resolution(resend=True)
    fresh = await reread(session, row.id)
    if fresh.provider_message_id:
        sent = await mark_sent(
            session, row.id, fresh.provider_message_id, resolution="ambiguous -> confirmed sent by receipt"
        )
        return Resolution(result=result_of(sent))
    assert fresh.in_flight_since is not None
    waited = (datetime.now(UTC) - fresh.in_flight_since).total_seconds()
    window = settings.ambiguous_wait_s
    if guarantees.receipt_carries_key and waited < window and not final_attempt:
        return Resolution(wait_s=max(1.0, window - waited))
    why = (
        f"no receipt in {window:g} s"
        if guarantees.receipt_carries_key
        else f"{provider.name} cannot be asked"
    )
    if settings.ambiguous_policy.get(category, "prefer_duplicate") == "prefer_duplicate":
        await set_resolution(session, row.id, f"ambiguous -> {why} -> resent (prefer_duplicate)")
        return Resolution(resend=True)
    resolution = f"ambiguous -> {why} -> not resent (prefer_missing)"
    await mark_failed(session, row.id, resolution, NOT_RESENT, resolution=resolution)
    return Resolution(
        result=NotificationResult(
            status="failed",
            message_key=row.message_key,
            channel=row.channel.value if row.channel else None,
            provider=provider.name,
            reason=NOT_RESENT,
        )
    )
