"""AdminDigestWorkflow (``admin-digest-<business>``): the owner's daily digest, not an e-mail per booking.

Runs while the business has ``admin_alerts: daily_digest``. Each round reads the live settings (mode, time,
zone), sleeps durably until the next digest instant (the business-local wall time, DST-correct), and sends
``business.admin_digest`` through the same idempotent delivery as every message (key: business, event,
instant, channel), so a digest goes out once even across retries and restarts. The delivery reads the day's
bookings, cancellations and no-shows when it sends; an empty day is recorded ``skipped: empty_digest`` and
sends nothing. A settings change (signal ``settings_changed``, signalled-with-start by the API and the
settings rollout) plans again.

Each digest covers the time since the last one reported (``businesses.digest_since``, moved on by
``digest_reported`` after every digest or empty day), so a new time or zone neither repeats nor drops an
hour; after an outage the one digest due covers every missed day; a switch back to ``each`` sends a final
digest of the alerts still held, then ends the workflow.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.admin_digest import AdminDigestActivities
    from domain import search_attributes as attrs
    from domain.admin_digest import (
        FINAL_DIGEST,
        AdminDigestInput,
        AdminDigestView,
        DigestPlan,
        DigestReportedInput,
        PlanDigestInput,
    )
    from domain.notification_types import NotificationRequest, NotificationResult
    from domain.rollout_types import SettingsChanged
    from domain.task_queues import MAINTENANCE
    from workflows.db_calls import call_db
    from workflows.delivery import send_now

SENT_HISTORY = 30
# Workflows started before it replay the old loop: a window of one day back, no final digest.
SINCE_LAST_REPORTED = "digest-window-since-the-last-reported"


@workflow.defn
class AdminDigestWorkflow:
    @workflow.init
    def __init__(self, start: AdminDigestInput) -> None:
        self._business_id = start.business_id
        self._plan = DigestPlan(mode="daily_digest")
        self._sent: list[str] = []
        self._changed = False

    @workflow.run
    async def run(self, start: AdminDigestInput) -> AdminDigestView:
        since_last = workflow.patched(SINCE_LAST_REPORTED)  # asked before the first command
        while True:
            if workflow.info().get_current_history_length() > start.continue_as_new_after_events:
                workflow.continue_as_new(start)
            self._changed = False
            self._plan = await call_db(
                AdminDigestActivities.plan_digest,
                PlanDigestInput(business_id=self._business_id, now=workflow.now()),
                "read the digest settings",
                queue=MAINTENANCE,
            )
            if self._plan.mode != "daily_digest" or self._plan.next_at is None:
                if since_last and self._plan.final_at is not None:
                    await self._digest(self._plan.final_at, final=True)
                break
            at = self._plan.next_at
            workflow.upsert_search_attributes([attrs.DUE_AT.value_set(at)])
            workflow.set_current_details(f"**daily digest** · next at {at:%Y-%m-%d %H:%M} UTC")
            try:
                if not (since_last and at <= workflow.now()):  # a catch-up after an outage is due now
                    await workflow.wait_condition(
                        lambda: self._changed, timeout=at - workflow.now(), timeout_summary="daily digest"
                    )
                    continue  # the settings changed: plan again
            except TimeoutError:
                pass
            if since_last:
                await self._digest(at, final=False)
            else:
                await self._send(at, final=False)  # before the patch: no window to move on
        workflow.upsert_search_attributes([attrs.STATUS.value_set("ended")])
        workflow.set_current_details(f"**ended** · admin alerts are {self._plan.mode!r}")
        return self.state()

    async def _digest(self, at: datetime, *, final: bool) -> None:
        """Send the digest up to ``at`` (sent, or skipped as an empty window), then start the next window
        there: every moment is reported once."""
        await self._send(at, final=final)
        await call_db(
            AdminDigestActivities.digest_reported,
            DigestReportedInput(business_id=self._business_id, until=at, final=final),
            "move the digest window on",
            queue=MAINTENANCE,
        )

    async def _send(self, at: datetime, *, final: bool) -> None:
        result = await send_now(
            NotificationRequest(
                business_id=self._business_id,
                entity_type="business",
                entity_id=self._business_id,
                event="business.admin_digest",
                variant=FINAL_DIGEST if final else None,
                customer_id=None,
                scheduled_for=at,
            )
        )
        self._record(at, result)

    def _record(self, at: datetime, result: NotificationResult) -> None:
        outcome = result.status + (f" ({result.reason})" if result.reason else "")
        self._sent.append(f"{at.isoformat()}: {outcome}")
        del self._sent[:-SENT_HISTORY]

    @workflow.signal
    def settings_changed(self, change: SettingsChanged) -> None:
        """Plan again with the business's settings (the time, the zone, or a switch back to ``each``)."""
        self._changed = True

    @workflow.query
    def state(self) -> AdminDigestView:
        return AdminDigestView(
            business_id=self._business_id,
            mode=self._plan.mode,
            next_at=self._plan.next_at,
            sent=list(self._sent),
        )
