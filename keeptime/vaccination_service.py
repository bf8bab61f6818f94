"""Registering vaccination records: the row, then its workflow; older records of the pet are superseded."""

from __future__ import annotations

import contextlib
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from activities.vaccination_types import SupersedeInput, VaccinationInput, VaccinationSnapshot
from db import pets
from db.engine import SessionFactory
from db.models import Vaccination
from workflows import search_attributes as attrs
from workflows.task_queues import MAINTENANCE
from workflows.vaccination import VaccinationWorkflow


def vaccination_workflow_id(vaccination_id: int) -> str:
    return f"vaccination-{vaccination_id}"


async def register_vaccination(
    sessions: SessionFactory, client: Client, business_id: int, values: dict[str, Any]
) -> Vaccination:
    async with sessions() as session:
        record, older = await pets.add_vaccination(session, business_id, values)
        snapshot = await pets.vaccination_snapshot(session, record)
    for old_id in older:  # their rows already say superseded; their workflows end quietly
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(vaccination_workflow_id(old_id)).signal(
                VaccinationWorkflow.supersede, SupersedeInput(by_vaccination_id=record.id)
            )
    await start_vaccination_workflow(client, record, snapshot)
    return record


async def start_vaccination_workflow(
    client: Client, record: Vaccination, snapshot: VaccinationSnapshot
) -> None:
    """Start ``vaccination-<id>`` unless it runs already (the API and the reconciler both call it)."""
    await client.start_workflow(
        VaccinationWorkflow.run,
        VaccinationInput(vaccination_id=record.id, business_id=record.business_id, snapshot=snapshot),
        id=vaccination_workflow_id(record.id),
        task_queue=MAINTENANCE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=attrs.entity_attributes(record.business_id, "vaccination", snapshot.status),
        static_summary=f"Vaccination {record.id} ({record.vaccine}) · expires {record.expires_at:%Y-%m-%d}",
    )
