"""Policies, invoices and projects by the business's own id (db.external_ids): the lookup the
``GET /v1/<kind>/by-external-id/{external_id}`` routes answer, and the conflict a taken id is."""

from __future__ import annotations

from db import external_ids as store
from db.engine import SessionFactory
from db.models import Invoice, Policy, Project

ExternalIdTaken = store.ExternalIdTaken


async def policy(sessions: SessionFactory, business_id: int, external_id: str) -> Policy | None:
    async with sessions() as session:
        return await store.by_external_id(session, Policy, business_id, external_id)


async def invoice(sessions: SessionFactory, business_id: int, external_id: str) -> Invoice | None:
    async with sessions() as session:
        return await store.by_external_id(session, Invoice, business_id, external_id)


async def project(sessions: SessionFactory, business_id: int, external_id: str) -> Project | None:
    async with sessions() as session:
        return await store.by_external_id(session, Project, business_id, external_id)
