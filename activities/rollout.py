"""Settings rollout activities: tell one page of a business's workflows that its settings changed."""

from __future__ import annotations

import asyncio
from collections import Counter

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from db import appointments as store
from db import pets
from db.engine import SessionFactory
from db.models import Business
from db.rollout import ids_page
from db.tenants import mark_rolled_out, settings_revision
from domain.automation import AutomationSettings
from domain.ids import (
    appointment_workflow_id,
    daily_plan_workflow_id,
    invoice_workflow_id,
    policy_workflow_id,
    vaccination_workflow_id,
)
from domain.rollout_types import (
    RolledOutInput,
    RolloutPageInput,
    RolloutPageResult,
    SettingsChanged,
)
from workflows.starts import ensure_admin_digest, ensure_workflow, start_vaccination_workflow

SIGNAL_CONCURRENCY = 16  # signals in flight per page: well under the frontend's per-namespace RPS limit
WORKFLOW_ID = {
    "appointment": appointment_workflow_id,
    "vaccination": vaccination_workflow_id,
    "policy": policy_workflow_id,
    "invoice": invoice_workflow_id,
    "daily_plan": daily_plan_workflow_id,
}


class RolloutActivities:
    def __init__(self, sessions: SessionFactory, client: Client) -> None:
        self._sessions = sessions
        self._client = client

    @activity.defn
    async def wake_page(self, page: RolloutPageInput) -> RolloutPageResult:
        """Signal every workflow of one page. Safe to repeat (a retry, a second rollout): a workflow that has
        the revision already ignores the signal."""
        async with self._sessions() as session:
            current = await settings_revision(session, page.business_id)
            if current > page.revision:
                # A newer change is committed, and its own rollout (started by the API after the commit, or
                # by the hourly reconciler if that start was lost) tells every workflow the newer revision;
                # each workflow reads the settings as they are then. Telling them this one as well is only
                # load: a burst of changes would cost one rollout each, in full.
                return RolloutPageResult(last_id=page.after_id, done=True, superseded_by=current)
            ids = await ids_page(session, page.business_id, page.kind, page.after_id, page.limit)
        gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)

        async def one(entity_id: int) -> str:
            async with gate:
                outcome = await self._wake(page, entity_id)
            activity.heartbeat(entity_id)
            return outcome

        outcomes = Counter(await asyncio.gather(*(one(entity_id) for entity_id in ids)))
        return RolloutPageResult(
            last_id=ids[-1] if ids else page.after_id,
            done=len(ids) < page.limit,
            signalled=outcomes["signalled"],
            started=outcomes["started"],
            not_running=outcomes["not_running"],
        )

    async def _wake(self, page: RolloutPageInput, entity_id: int) -> str:
        if await self._signal(page, entity_id):
            return "signalled"
        # Not running. An appointment or vaccination committed a moment ago may not be started yet: its
        # starter (the API) read its snapshot, with the revision before this one, and may start it any
        # moment. Start it here from the row as it is now, then tell it once more: the one that won the
        # start (ours, or the API's with the old snapshot) hears this revision either way.
        if not await self._start_from_row(page, entity_id):
            return "not_running"  # ended, or a kind the reconciler restarts (it reads settings afresh)
        await self._signal(page, entity_id)
        return "started"

    async def _signal(self, page: RolloutPageInput, entity_id: int) -> bool:
        """False: no such workflow runs."""
        handle = self._client.get_workflow_handle(WORKFLOW_ID[page.kind](entity_id))
        try:
            if page.kind == "policy":  # policies re-read their config on every wake: a plain refresh
                await handle.signal("refresh")
            else:
                await handle.signal("settings_changed", SettingsChanged(revision=page.revision))
            return True
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            return False

    async def _start_from_row(self, page: RolloutPageInput, entity_id: int) -> bool:
        """Start the entity's workflow from its row unless it ever ran (appointments) or runs; False when
        the row is gone or no longer active, or the kind is not started here."""
        async with self._sessions() as session:
            if page.kind == "appointment":
                appointment = await store.appointment_of(session, page.business_id, entity_id)
                if appointment is None:
                    return False
                snapshot = await store.appointment_snapshot(session, appointment)
                handle = await ensure_workflow(self._client, snapshot)
                return handle.result_run_id is not None  # None: it ran and ended (REJECT_DUPLICATE)
            if page.kind == "vaccination":
                record = await pets.vaccination_of(session, page.business_id, entity_id)
                if record is None or record.status not in pets.ACTIVE:
                    return False
                await start_vaccination_workflow(
                    self._client, record, await pets.vaccination_snapshot(session, record)
                )
                return True
        return False

    @activity.defn
    async def ensure_admin_digest(self, business: RolledOutInput) -> bool:
        """The business's digest workflow runs exactly when its alerts are ``daily_digest``."""
        async with self._sessions() as session:
            row = await session.get(Business, business.business_id)
        wanted = row is not None and AutomationSettings.from_stored(row.automation).settings.admin_alerts
        return await ensure_admin_digest(
            self._client, business.business_id, daily_digest=wanted == "daily_digest"
        )

    @activity.defn
    async def mark_rolled_out(self, done: RolledOutInput) -> None:
        async with self._sessions() as session:
            await mark_rolled_out(session, done.business_id, done.revision)
