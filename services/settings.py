"""Changing a business's settings: store them, then roll the change out to its sleeping workflows.

The rollout is a workflow (``workflows.settings_rollout``), never a loop in the request: the change is
committed first (with a new ``settings_revision``), then ``settings-rollout-<business>-r<revision>`` is
started. A crash in between is repaired by the client's repeat (an identical change bumps nothing and starts
the missing rollout) or by the hourly reconciler (``rolled_out_revision`` is behind).
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from db import policies, tenants
from db.engine import SessionFactory
from db.models import Business
from domain.automation import AutomationSettings
from domain.call_config import CallSchedulerConfig
from domain.ids import settings_rollout_workflow_id
from domain.rollout_types import RolloutProgress, RolloutStarted
from workflows.settings_rollout import SettingsRolloutWorkflow
from workflows.starts import ensure_admin_digest, ensure_rollout


async def update_business(
    sessions: SessionFactory, client: Client, business_id: int, changes: dict[str, Any]
) -> tuple[Business, RolloutStarted | None]:
    """Store the changes; when what workflows plan with changed (now or in an earlier attempt whose rollout
    never started), start its rollout."""
    async with sessions() as session:
        business = await tenants.update_business(session, business_id, changes)
    if business.rolled_out_revision >= business.settings_revision:
        return business, None
    return business, await _roll_out(client, business_id, business.settings_revision)


async def business_created(client: Client, business: Business) -> None:
    """A business created in digest mode gets its digest workflow at once (later changes: the rollout)."""
    settings = AutomationSettings.from_stored(business.automation).settings
    await ensure_admin_digest(client, business.id, daily_digest=settings.admin_alerts == "daily_digest")


async def change_call_config(
    sessions: SessionFactory, client: Client, business_id: int, config: CallSchedulerConfig
) -> RolloutStarted:
    """Store the call config, then roll it out: every sleeping policy re-plans its next call with it.

    Policies also re-read the config before every call, so one the rollout misses still honours it."""
    async with sessions() as session:
        revision = await policies.save_call_config(session, business_id, config)
    return await _roll_out(client, business_id, revision)


async def rollout_progress(client: Client, business_id: int, revision: int) -> RolloutProgress | None:
    """The rollout's ``progress`` query, or None when there is no such rollout."""
    handle = client.get_workflow_handle_for(
        SettingsRolloutWorkflow.run, settings_rollout_workflow_id(business_id, revision)
    )
    try:
        return await handle.query(SettingsRolloutWorkflow.progress)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def _roll_out(client: Client, business_id: int, revision: int) -> RolloutStarted:
    return RolloutStarted(revision=revision, workflow_id=await ensure_rollout(client, business_id, revision))
