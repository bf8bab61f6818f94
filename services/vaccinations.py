"""Registering vaccination records: the row, then its workflow; older records of the pet are superseded."""

from __future__ import annotations

import contextlib
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from db import pets
from db.engine import SessionFactory
from db.models import Vaccination
from domain.ids import vaccination_workflow_id
from domain.vaccination_types import SupersedeInput
from workflows.starts import start_vaccination_workflow
from workflows.vaccination import VaccinationWorkflow


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
