"""VaccinationWorkflow (``vaccination-<id>``): alerts before a vaccination expires, then marks it expired.

At each alert moment (default 30, 14 and 7 days before expiry, 10:00 business time) the record becomes
``expiring_soon`` and the owner gets an SMS (opt-in respected, idempotent); at expiry it becomes ``expired``
and the owner is told. A record registered late sends only the most recent alert already due. A newer record
of the same pet and vaccine signals ``supersede``: this workflow then ends quietly. A change of the business's
alert days, alert time or time zone arrives as ``settings_changed``: the alerts are planned again (one already
sent is not sent again; a new one before an alert already sent is skipped).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.vaccinations import VaccinationActivities
    from domain import search_attributes as attrs
    from domain.notification_types import NotificationRequest
    from domain.rollout_types import SettingsChanged
    from domain.statuses import VaccinationStatus
    from domain.task_queues import MAINTENANCE
    from domain.vaccination_types import (
        ExpiryAlert,
        SetVaccinationStatusInput,
        SupersedeInput,
        VaccinationCarried,
        VaccinationInput,
        VaccinationRef,
        VaccinationSnapshot,
        VaccinationStatusName,
        VaccinationView,
    )
    from workflows.db_calls import call_db
    from workflows.delivery import send_now
    from workflows.history import history_is_long


CONTINUE_AS_NEW = "vaccination-continues-as-new"  # before it, the history only grew


@workflow.defn
class VaccinationWorkflow:
    @workflow.init
    def __init__(self, start: VaccinationInput) -> None:
        self._ref = VaccinationRef(vaccination_id=start.vaccination_id, business_id=start.business_id)
        self._snapshot: VaccinationSnapshot | None = start.snapshot
        carried = start.carried or VaccinationCarried()
        self._handled: set[str] = set(carried.handled)
        self._sent: list[str] = list(carried.sent)
        self._superseded_by: int | None = None
        self._revision_wanted = carried.revision_wanted
        self._last_alert_at: datetime | None = carried.last_alert_at

    @workflow.run
    async def run(self, start: VaccinationInput) -> VaccinationView:
        if self._snapshot is None:
            self._snapshot = await call_db(
                VaccinationActivities.load_vaccination, self._ref, "load vaccination", queue=MAINTENANCE
            )
        while self._superseded_by is None and self._snapshot.status in ("valid", "expiring_soon"):
            if history_is_long(start.continue_as_new_after_events) and workflow.patched(CONTINUE_AS_NEW):
                # A record can sleep for years and hear every settings change: the history stays short.
                # Signal handlers are synchronous, so nothing is half-handled; a signal that arrives
                # meanwhile fails this task, which then runs again with it (and carries it).
                workflow.continue_as_new(
                    start.model_copy(update={"snapshot": self._snapshot, "carried": self._carry()})
                )
            if self._settings_stale():
                await self._read_settings()
            alert = self._next_alert()
            at = alert.at if alert else self._snapshot.expires_at
            label = f"{alert.days_before}-day alert" if alert else "expiry"
            workflow.upsert_search_attributes(
                [attrs.STATUS.value_set(self._snapshot.status), attrs.DUE_AT.value_set(at)]
            )
            delay = at - workflow.now()
            if delay > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda: self._superseded_by is not None or self._settings_stale(),
                        timeout=delay,
                        timeout_summary=label,
                    )
                    continue  # superseded, or the settings changed, while waiting
                except TimeoutError:
                    pass
            if alert is not None:
                await self._alert(alert)
            else:
                await self._expire()
        workflow.upsert_search_attributes([attrs.STATUS.value_set(self._status())])
        return self.state()

    def _carry(self) -> VaccinationCarried:
        return VaccinationCarried(
            handled=sorted(self._handled),
            sent=self._sent[-50:],
            revision_wanted=self._revision_wanted,
            last_alert_at=self._last_alert_at,
        )

    def _settings_stale(self) -> bool:
        assert self._snapshot is not None
        return self._revision_wanted > self._snapshot.settings_revision

    async def _read_settings(self) -> None:
        self._revision_wanted = 0
        self._snapshot = await call_db(
            VaccinationActivities.load_vaccination, self._ref, "read the new settings", queue=MAINTENANCE
        )
        for alert in self._snapshot.alerts:
            already = self._last_alert_at is not None and alert.at <= self._last_alert_at
            if already and _key(alert) not in self._handled:
                self._handled.add(_key(alert))
                self._sent.append(f"vaccination.expiring_{alert.days_before}d: skipped (already_alerted)")

    def _next_alert(self) -> ExpiryAlert | None:
        """The next alert to act on; one overtaken by a later alert already due is dropped (late records)."""
        assert self._snapshot is not None
        now = workflow.now()
        pending = [a for a in self._snapshot.alerts if _key(a) not in self._handled]
        for index, alert in enumerate(pending):
            if any(later.at <= now for later in pending[index + 1 :]):
                self._handled.add(_key(alert))
                self._sent.append(f"vaccination.expiring_{alert.days_before}d: skipped (overtaken)")
                continue
            return alert
        return None

    async def _alert(self, alert: ExpiryAlert) -> None:
        self._handled.add(_key(alert))
        self._last_alert_at = workflow.now()
        await self._set_status(VaccinationStatus.EXPIRING_SOON, allowed_from=[VaccinationStatus.VALID])
        await self._notify("vaccination.expiring", f"{alert.days_before}d", alert.at)

    async def _expire(self) -> None:
        assert self._snapshot is not None
        await self._set_status(
            VaccinationStatus.EXPIRED, allowed_from=[VaccinationStatus.VALID, VaccinationStatus.EXPIRING_SOON]
        )
        await self._notify("vaccination.expired", None, self._snapshot.expires_at)

    async def _set_status(
        self, status: VaccinationStatusName, *, allowed_from: list[VaccinationStatusName]
    ) -> None:
        change = SetVaccinationStatusInput(**self._ref.model_dump(), status=status, allowed_from=allowed_from)
        self._snapshot = await call_db(
            VaccinationActivities.set_vaccination_status, change, f"status {status}", queue=MAINTENANCE
        )

    async def _notify(self, event: str, variant: str | None, scheduled_for: datetime) -> None:
        assert self._snapshot is not None
        request = NotificationRequest(
            business_id=self._ref.business_id,
            entity_type="vaccination",
            entity_id=self._ref.vaccination_id,
            event=event,
            variant=variant,
            customer_id=self._snapshot.owner_id,
            scheduled_for=scheduled_for,
        )
        result = await send_now(request)
        self._sent.append(
            f"{request.event_name}: {result.status}" + (f" ({result.reason})" if result.reason else "")
        )

    def _status(self) -> VaccinationStatusName:
        assert self._snapshot is not None
        return VaccinationStatus.SUPERSEDED if self._superseded_by is not None else self._snapshot.status

    @workflow.signal
    def settings_changed(self, change: SettingsChanged) -> None:
        """Re-plan the alerts with the business's new settings (a repeat or an older revision is ignored)."""
        self._revision_wanted = max(self._revision_wanted, change.revision)

    @workflow.signal
    def supersede(self, newer: SupersedeInput) -> None:
        self._superseded_by = newer.by_vaccination_id

    @workflow.query
    def state(self) -> VaccinationView:
        assert self._snapshot is not None
        active = self._superseded_by is None and self._snapshot.status in ("valid", "expiring_soon")
        alert = self._next_alert_peek() if active else None
        return VaccinationView(
            vaccination_id=self._ref.vaccination_id,
            status=self._status(),
            expires_at=self._snapshot.expires_at,
            next_action=(f"{alert.days_before}-day alert" if alert else "expiry") if active else None,
            next_action_at=(alert.at if alert else self._snapshot.expires_at) if active else None,
            sent=list(self._sent),
        )

    def _next_alert_peek(self) -> ExpiryAlert | None:
        assert self._snapshot is not None
        pending = [a for a in self._snapshot.alerts if _key(a) not in self._handled]
        return pending[0] if pending else None


def _key(alert: ExpiryAlert) -> str:
    return f"alert:{alert.days_before}"
