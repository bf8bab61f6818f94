"""Rows by the business's own id (``ExternalRef``: ``external_id`` unique per business and table, and
``metadata``) for policies, invoices and projects: the columns a create writes, the conflict a taken id
raises, the lookup and the list filter."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.conflicts import FieldConflict
from db.models import Invoice, Policy, Project

Row = TypeVar("Row", Policy, Invoice, Project)


class ExternalIdTaken(FieldConflict):
    def __init__(self, kind: str) -> None:
        super().__init__("external_id", f"another {kind} of yours has this external_id")


def columns(values: dict[str, Any]) -> dict[str, Any]:
    """The API's ``metadata`` is the ``meta`` attribute (``metadata`` is SQLAlchemy's own)."""
    renamed = dict(values)
    if "metadata" in renamed:
        renamed["meta"] = renamed.pop("metadata")
    return renamed


def hashed(values: dict[str, Any]) -> dict[str, Any]:
    """What a repeat is compared by: ``external_id`` and ``metadata`` left out when not given, so a body
    without them digests as it did before they existed (a retry from before the upgrade still matches)."""
    return {k: v for k, v in values.items() if not (k in ("external_id", "metadata") and v is None)}


def raise_if_taken(exc: IntegrityError, model: type[Row], kind: str) -> None:
    """``ExternalIdTaken`` when the violated constraint is the table's external-id index."""
    if f"uq_{model.__tablename__}_business_external_id" in str(exc.orig):
        raise ExternalIdTaken(kind) from exc


def filtered(statement: Select[Any], model: type[Row], external_id: str | None) -> Select[Any]:
    return statement if external_id is None else statement.where(model.external_id == external_id)


async def by_external_id(
    session: AsyncSession, model: type[Row], business_id: int, external_id: str
) -> Row | None:
    found: Row | None = await session.scalar(
        select(model).where(model.business_id == business_id, model.external_id == external_id)
    )
    return found
