"""Query-string parameters, one model per listing: parsed by ``parse_query`` and documented in the OpenAPI
document from the same model (``Route.query``). Ranges come from ``domain.limits``."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.errors import validation_error
from domain.limits import DbId, ExternalId, Instant
from domain.pages import MAX_CURSOR_CHARS
from domain.statuses import AppointmentStatus, CallStatus, NotificationStatus, PolicyStatus


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


Cursor = Field(
    default=None,
    min_length=1,
    max_length=MAX_CURSOR_CHARS,
    description="the next_cursor of the page before (the same filters again); opaque",
)
UpdatedAfter = Field(
    default=None,
    description="only those changed after this instant, in the order of their last change (a change "
    "committing late may carry an earlier time: poll with a minute of overlap, or read /v1/events, which "
    "skips nothing)",
)


class AppointmentListQuery(Query):
    after: str | None = Cursor
    updated_after: Instant | None = UpdatedAfter
    status: AppointmentStatus | None = None
    customer_id: DbId | None = None
    starts_from: Instant | None = Field(default=None, alias="from", description="starts at or after")
    starts_before: Instant | None = Field(default=None, alias="to", description="starts before")
    external_id: ExternalId | None = Field(default=None, description="the one with your id")
    limit: int = Field(default=100, ge=1, le=500, description="at most this many items")


class PolicyListQuery(Query):
    after: str | None = Cursor
    updated_after: Instant | None = UpdatedAfter
    status: PolicyStatus | None = None
    customer_id: DbId | None = None
    external_id: ExternalId | None = Field(default=None, description="the one with your id")
    limit: int = Field(default=100, ge=1, le=500, description="at most this many items")


class CallListQuery(Query):
    after: str | None = Cursor
    status: CallStatus | None = None
    policy_id: DbId | None = None
    since: Instant | None = Field(default=None, alias="from")
    until: Instant | None = Field(default=None, alias="to")
    limit: int = Field(default=100, ge=1, le=500, description="at most this many items")


class NotificationListQuery(Query):
    entity: str | None = Field(
        default=None,
        pattern=r"^(appointment|broadcast|policy|vaccination)(:[1-9][0-9]{0,17})?$",
        description="e.g. appointment:123, or appointment for every appointment",
    )
    status: NotificationStatus | None = None
    customer_id: DbId | None = None
    before_id: DbId | None = Field(default=None, description="the page before this log id")
    limit: int = Field(default=100, ge=1, le=500, description="at most this many items")


class PendingCallsQuery(Query):
    within_days: int = Field(default=7, ge=0, le=366)
    after: str | None = Cursor
    limit: int = Field(default=200, ge=1, le=1000, description="at most this many items")


class PlatformStatsQuery(Query):
    days: int = Field(default=30, ge=1, le=366)


class UpcomingVaccinationsQuery(Query):
    within_days: int = Field(default=30, ge=1, le=366)
    after: str | None = Cursor
    limit: int = Field(default=500, ge=1, le=500, description="at most this many items")


QueryModel = TypeVar("QueryModel", bound=BaseModel)


class SmsStatusQuery(Query):
    log: DbId | None = Field(
        default=None, description="our notification log row, which Keeptime puts in each StatusCallback URL"
    )


def parse_query(request: web.Request, model: type[QueryModel]) -> QueryModel:
    """The query string as ``model`` (each parameter once; unknown ones are ignored); 422 names the one at
    fault."""
    values = {key: request.query.getone(key) for key in request.query}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise validation_error(exc) from exc
