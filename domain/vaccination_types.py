"""Types that cross the Temporal boundary for vaccination records (ids, statuses, instants only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.statuses import VaccinationStatus

VaccinationStatusName = VaccinationStatus


class VaccinationRef(BaseModel):
    vaccination_id: int
    business_id: int


class ExpiryAlert(BaseModel):
    days_before: int
    at: datetime


class VaccinationSnapshot(BaseModel):
    """The record, its owner's id, and its alert moments (planned in the business's zone)."""

    vaccination_id: int
    business_id: int
    owner_id: int
    status: VaccinationStatusName
    expires_at: datetime
    alerts: list[ExpiryAlert]
    settings_revision: int = Field(default=0, description="the business's settings revision read")


class SetVaccinationStatusInput(BaseModel):
    vaccination_id: int
    business_id: int
    status: VaccinationStatusName
    allowed_from: list[VaccinationStatusName]


class SupersedeInput(BaseModel):
    """Signal ``supersede``: a newer record of the same pet and vaccine replaces this one."""

    by_vaccination_id: int


class VaccinationCarried(BaseModel):
    """What the workflow knows beyond the row, handed over by continue-as-new."""

    handled: list[str] = Field(default_factory=list, description="alerts done, e.g. 'alert:30'")
    sent: list[str] = Field(default_factory=list, description="the view's lines")
    revision_wanted: int = 0
    last_alert_at: datetime | None = None


class VaccinationInput(BaseModel):
    vaccination_id: int
    business_id: int
    snapshot: VaccinationSnapshot | None = None
    carried: VaccinationCarried | None = Field(default=None, description="state across continue-as-new")
    continue_as_new_after_events: int = Field(
        default=2_000, ge=20, description="history length that triggers continue-as-new"
    )


class VaccinationView(BaseModel):
    vaccination_id: int
    status: VaccinationStatusName
    expires_at: datetime
    next_action: str | None = None
    next_action_at: datetime | None = None
    sent: list[str] = Field(
        default_factory=list, description="event: outcome, e.g. 'vaccination.expiring_30d: sent'"
    )
