"""Types that cross the Temporal boundary for invoices (ids, statuses, dates and instants; no amounts or
names: those stay in PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.statuses import InvoiceStatus

MomentKind = Literal["overdue", "escalation"]


class InvoiceRef(BaseModel):
    invoice_id: int
    business_id: int


class InvoiceMoment(BaseModel):
    """One instant of the timeline: overdue (1 day), or an escalation N days overdue."""

    kind: MomentKind
    days_overdue: int
    at: datetime

    @property
    def key(self) -> str:
        """Names the moment within one due date (the workflow's set of moments handled)."""
        return f"{self.kind}:{self.days_overdue}"

    @property
    def label(self) -> str:
        return "overdue" if self.kind == "overdue" else f"{self.days_overdue} days overdue"


class InvoiceSnapshot(BaseModel):
    """The row as the workflow plans with it, and its moments, planned by the activity in the company's
    zone (time-zone rules are data that can change between deployments; the workflow only sees instants)."""

    invoice_id: int
    business_id: int
    status: InvoiceStatus
    due_on: date
    version: int
    time_zone: str
    escalation_days: list[int]
    moments: list[InvoiceMoment]


class InvoiceCarried(BaseModel):
    """What the workflow knows beyond the row, handed over by continue-as-new."""

    handled: list[str] = Field(default_factory=list, description="moments done, '<due_on>:<moment>'")
    history: list[str] = Field(default_factory=list, description="the view's lines")
    version_wanted: int = 0
    settings_wanted: int = 0
    settings_read: int = 0


class InvoiceInput(BaseModel):
    invoice_id: int
    business_id: int
    snapshot: InvoiceSnapshot | None = None
    carried: InvoiceCarried | None = Field(default=None, description="state across continue-as-new")
    continue_as_new_after_events: int = Field(
        default=2_000, ge=20, description="history length that triggers continue-as-new"
    )


class InvoiceChanged(BaseModel):
    """Signal ``invoice_changed``: the row changed (paid, written off, new due date); re-read it.
    A repeat, or an older version, changes nothing."""

    version: int = Field(ge=1)


class InvoiceMomentInput(BaseModel):
    """Act on one moment of the timeline, if the row still is what the moment was planned from."""

    invoice_id: int
    business_id: int
    kind: MomentKind
    days_overdue: int
    at: datetime
    due_on: date


class InvoiceMomentResult(BaseModel):
    acted: bool
    reason: str | None = Field(default=None, description="why not: 'paid', 'written_off', 'due_date_moved'")
    notified: int = Field(default=0, description="in-app notifications created (a repeat creates none)")
    snapshot: InvoiceSnapshot


class InvoiceView(BaseModel):
    invoice_id: int
    status: str = Field(description="the invoice's status, or 'gone' when its row was deleted")
    due_on: date | None
    next_action: str | None = None
    next_action_at: datetime | None = None
    history: list[str] = Field(
        default_factory=list,
        description="moment: outcome, e.g. 'overdue: 2 notified', '7 days overdue: skipped (paid)'",
    )
