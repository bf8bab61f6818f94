"""The event feed (``GET /v1/events``): what happened, to pull with a cursor (services.events)."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from api.auth import require_business
from api.errors import inconsistent_error
from api.keys import SESSIONS, SETTINGS
from api.openapi import RouteTable
from api.queries import Query, parse_query
from api.resources import EventPage
from domain.events import EVENT_TYPES
from services import events

routes = RouteTable("events")

_ONE_TYPE = "(" + "|".join(t.replace(".", r"\.") for t in EVENT_TYPES) + ")"


class EventQuery(Query):
    after: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the next_cursor of the page before (none: from the oldest event kept); a cursor this "
        "server did not make for this business is refused (422 inconsistent)",
    )
    type: str | None = Field(
        default=None,
        max_length=1000,
        pattern=f"^{_ONE_TYPE}(,{_ONE_TYPE})*$",
        description="only these types, comma-separated (docs/events.md lists the catalogue)",
    )
    limit: int = Field(default=100, ge=1, le=500, description="at most this many items")


@routes.get(
    "/v1/events",
    "The business's events in the order they committed, after a cursor (kept 30 days)",
    ok={"200": "a page: items, next_cursor, has_more"},
    query=EventQuery,
    result=EventPage,
)
async def list_(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    query = parse_query(request, EventQuery)
    types = query.type.split(",") if query.type else None
    try:
        page = await events.feed(
            request.app[SESSIONS],
            request.app[SETTINGS],
            business_id,
            after=query.after,
            types=types,
            limit=query.limit,
        )
    except events.BadCursor as exc:
        raise inconsistent_error("after", str(exc)) from exc
    body = EventPage.model_validate(
        {
            "items": [item.model_dump(mode="json") for item in page.items],
            "next_cursor": page.next_cursor,
            "has_more": page.has_more,
        }
    )
    return web.json_response(body.model_dump(mode="json"))
