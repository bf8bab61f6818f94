"""InvoiceWorkflow (``invoice-<id>``): sleeps until the invoice's due date has passed in its company's zone,
makes it overdue and tells admins and accounting once, then escalates on the company's ladder (default 7,
14 and 30 days overdue) until it is paid or written off.

A settings change (signal ``settings_changed``, from the settings rollout) re-reads the ladder and plans
again. The row is the truth: the API pays, writes off or moves the due date in PostgreSQL, then signals
``invoice_changed`` with the row's version; the workflow re-reads the row and plans again. Each moment runs
in one transaction under the row's lock that checks the row still is what the moment was planned from, so a
payment that commits first means nothing is sent, even if the signal never arrived. A moment overtaken by a
later one already due (an invoice registered late) is skipped, not sent late.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.invoices import InvoiceActivities
    from domain import search_attributes as attrs
    from domain.invoice_types import (
        InvoiceCarried,
        InvoiceChanged,
        InvoiceInput,
        InvoiceMoment,
        InvoiceMomentInput,
        InvoiceRef,
        InvoiceSnapshot,
        InvoiceView,
    )
    from domain.rollout_types import SettingsChanged
    from domain.statuses import InvoiceStatus
    from domain.task_queues import MAINTENANCE
    from workflows.db_calls import call_db
    from workflows.history import history_is_long

OPEN = (InvoiceStatus.SENT, InvoiceStatus.OVERDUE)
CONTINUE_AS_NEW = "invoice-continues-as-new"  # before it, the history only grew


@workflow.defn
class InvoiceWorkflow:
    @workflow.init
    def __init__(self, start: InvoiceInput) -> None:
        self._ref = InvoiceRef(invoice_id=start.invoice_id, business_id=start.business_id)
        self._snapshot: InvoiceSnapshot | None = start.snapshot
        carried = start.carried or InvoiceCarried()
        self._handled: set[str] = set(carried.handled)
        self._history: list[str] = list(carried.history)
        self._version_wanted = carried.version_wanted
        self._settings_wanted = carried.settings_wanted  # the newest settings revision signalled
        self._settings_read = carried.settings_read  # the one the moments were planned with (0: start)
        self._gone = False
        self._shown: tuple[str, object] | None = None  # the search attributes last upserted

    @workflow.run
    async def run(self, start: InvoiceInput) -> InvoiceView:
        if self._snapshot is None and not await self._reload("load invoice"):
            return self.state()
        while not self._gone and self._snapshot is not None and self._snapshot.status in OPEN:
            if history_is_long(start.continue_as_new_after_events) and workflow.patched(CONTINUE_AS_NEW):
                # Open for months, hearing every change of the row and of the settings: the history stays
                # short. Signal handlers are synchronous, so nothing is half-handled; one that arrives
                # meanwhile fails this task, which then runs again with it (and carries it).
                workflow.continue_as_new(
                    start.model_copy(update={"snapshot": self._snapshot, "carried": self._carry()})
                )
            if self._stale():
                if not await self._reload("read the changed invoice"):
                    break
                continue
            moment = self._next_moment()
            self._show(self._snapshot.status.value, moment)
            try:
                await workflow.wait_condition(
                    self._stale,
                    timeout=(moment.at - workflow.now()) if moment else None,
                    timeout_summary=moment.label if moment else None,
                )
                continue  # changed while waiting (or, with no moment left, only a change ends the wait)
            except TimeoutError:
                pass
            assert moment is not None
            await self._act(moment)
        workflow.upsert_search_attributes([attrs.STATUS.value_set(self._status())])
        return self.state()

    def _carry(self) -> InvoiceCarried:
        return InvoiceCarried(
            handled=sorted(self._handled),
            history=self._history[-50:],
            version_wanted=self._version_wanted,
            settings_wanted=self._settings_wanted,
            settings_read=self._settings_read,
        )

    def _show(self, status: str, moment: InvoiceMoment | None) -> None:
        """Status and next moment for the Web UI's lists, upserted only on a change (each is an event)."""
        shown = (status, moment.at if moment else None)
        if shown != self._shown:
            self._shown = shown
            workflow.upsert_search_attributes(
                [
                    attrs.STATUS.value_set(status),
                    attrs.DUE_AT.value_set(moment.at) if moment else attrs.DUE_AT.value_unset(),
                ]
            )

    def _stale(self) -> bool:
        if self._snapshot is None:
            return False
        return self._version_wanted > self._snapshot.version or self._settings_wanted > self._settings_read

    async def _reload(self, summary: str) -> bool:
        self._settings_read = self._settings_wanted  # the activity reads the settings as they are now
        try:
            self._snapshot = await call_db(
                InvoiceActivities.load_invoice, self._ref, summary, queue=MAINTENANCE
            )
        except ActivityError as error:
            return self._ended_by(error)
        return True

    def _ended_by(self, error: ActivityError) -> bool:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type == "InvoiceMissing":
            self._gone = True
            self._history.append("the invoice was deleted")
            return False
        raise error

    def _moments(self) -> list[InvoiceMoment]:
        assert self._snapshot is not None
        return self._snapshot.moments

    def _key(self, moment: InvoiceMoment) -> str:
        assert self._snapshot is not None
        return f"{self._snapshot.due_on.isoformat()}:{moment.key}"

    def _next_moment(self) -> InvoiceMoment | None:
        """The next moment to act on; an escalation overtaken by a later one already due is skipped."""
        now = workflow.now()
        pending = [m for m in self._moments() if self._key(m) not in self._handled]
        for index, moment in enumerate(pending):
            overtaken = moment.kind == "escalation" and any(later.at <= now for later in pending[index + 1 :])
            if not overtaken:
                return moment
            self._handled.add(self._key(moment))
            self._history.append(f"{moment.label}: skipped (overtaken)")
        return None

    async def _act(self, moment: InvoiceMoment) -> None:
        assert self._snapshot is not None
        self._handled.add(self._key(moment))
        arg = InvoiceMomentInput(
            **self._ref.model_dump(),
            kind=moment.kind,
            days_overdue=moment.days_overdue,
            at=moment.at,
            due_on=self._snapshot.due_on,
        )
        try:
            result = await call_db(
                InvoiceActivities.act_on_invoice_moment, arg, moment.label, queue=MAINTENANCE
            )
        except ActivityError as error:
            self._ended_by(error)
            return
        self._snapshot = result.snapshot
        outcome = f"{result.notified} notified" if result.acted else f"skipped ({result.reason})"
        self._history.append(f"{moment.label}: {outcome}")

    def _status(self) -> str:
        if self._gone or self._snapshot is None:
            return "gone"
        return self._snapshot.status.value

    @workflow.signal
    def invoice_changed(self, change: InvoiceChanged) -> None:
        """The row changed (paid, written off, new due date): re-read it. Repeats change nothing."""
        self._version_wanted = max(self._version_wanted, change.version)

    @workflow.signal
    def settings_changed(self, change: SettingsChanged) -> None:
        """The company's settings changed (the escalation ladder): plan again. Repeats change nothing."""
        self._settings_wanted = max(self._settings_wanted, change.revision)

    @workflow.query
    def state(self) -> InvoiceView:
        snapshot = self._snapshot
        active = not self._gone and snapshot is not None and snapshot.status in OPEN
        pending = [m for m in self._moments() if self._key(m) not in self._handled] if active else []
        return InvoiceView(
            invoice_id=self._ref.invoice_id,
            status=self._status(),
            due_on=snapshot.due_on if snapshot else None,
            next_action=pending[0].label if pending else None,
            next_action_at=pending[0].at if pending else None,
            history=list(self._history),
        )
