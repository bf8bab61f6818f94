"""A company's users (staff with roles), their in-app notifications (list, mark read) and how they hear of
them beyond the app (preferences: at once by e-mail or SMS, a daily digest, or in the app only)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import Field

from api.auth import require_business
from api.businesses import path_id
from api.errors import ApiError, parse_json_body
from api.keys import SESSIONS
from api.openapi import RouteTable
from api.queries import Query, parse_query
from api.resources import StaffPreferencesOut, StaffUserOut
from api.schemas import MarkRead, StaffPreferencesPut, StaffUserCreate
from api.serializers import in_app_notification_json, staff_preferences_json, staff_user_json
from db import staff
from domain.limits import DbId
from domain.staff_notify import StaffNotifyPrefs
from services import staff_notices

routes = RouteTable("staff")


class InboxQuery(Query):
    unread: bool = Field(default=False, description="only unread ones")
    before_id: DbId | None = Field(default=None, description="the page before this notification id")
    limit: int = Field(default=100, ge=1, le=500, description="at most this many items")


@routes.post(
    "/v1/staff",
    "Add a user to the company (a repeat of the same body answers 200 with the first)",
    ok={"201": "added", "200": "the same user, added before"},
    errors={"409": "another user has this e-mail"},
    body=StaffUserCreate,
    result=StaffUserOut,
)
async def add(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    body = await parse_json_body(request, StaffUserCreate)
    async with request.app[SESSIONS]() as session:
        try:
            added = await staff.add_user(session, business_id, body.model_dump(mode="json"))
        except staff.StaffConflict as exc:
            raise ApiError(
                409, "conflict", str(exc), fields=[{"field": exc.field, "message": str(exc)}]
            ) from exc
    return web.json_response(staff_user_json(added.user), status=201 if added.created else 200)


@routes.get("/v1/staff", "The company's users", ok={"200": "items"})
async def list_(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        rows = await staff.users(session, business_id)
    return web.json_response({"items": [staff_user_json(user) for user in rows]})


async def _user(request: web.Request) -> int:
    business_id = await require_business(request)
    user_id = path_id(request, "user_id")
    async with request.app[SESSIONS]() as session:
        if await staff.user_of(session, business_id, user_id) is None:
            raise ApiError(404, "not_found", "no such user")
    return user_id


@routes.get(
    "/v1/staff/{user_id}/notifications",
    "A user's in-app notifications, newest first, with the unread count (?unread=true: only unread)",
    ok={"200": "items"},
    query=InboxQuery,
)
async def inbox(request: web.Request) -> web.Response:
    user_id = await _user(request)
    query = parse_query(request, InboxQuery)
    async with request.app[SESSIONS]() as session:
        rows, unread = await staff.inbox(
            session, user_id, unread_only=query.unread, before_id=query.before_id, limit=query.limit
        )
    return web.json_response({"items": [in_app_notification_json(n) for n in rows], "unread": unread})


@routes.post(
    "/v1/staff/{user_id}/notifications/read",
    "Mark notifications read (ids, or all unread ones); a repeat marks nothing more",
    ok={"200": "how many changed"},
    body=MarkRead,
)
async def mark_read(request: web.Request) -> web.Response:
    user_id = await _user(request)
    body = await parse_json_body(request, MarkRead)
    async with request.app[SESSIONS]() as session:
        marked = await staff.mark_read(session, user_id, body.ids, datetime.now(UTC))
    return web.json_response({"marked": marked})


@routes.get(
    "/v1/staff/{user_id}/notifications/preferences",
    "How the user hears of notifications beyond the app",
    ok={"200": "preferences"},
    result=StaffPreferencesOut,
)
async def preferences(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        user = await staff.user_of(session, business_id, path_id(request, "user_id"))
    if user is None:
        raise ApiError(404, "not_found", "no such user")
    return web.json_response(staff_preferences_json(user))


@routes.put(
    "/v1/staff/{user_id}/notifications/preferences",
    "Set how the user hears of notifications beyond the app (the whole set; a repeat changes nothing). "
    "Notifications decided before keep their decision; the next ones follow these",
    ok={"200": "preferences"},
    body=StaffPreferencesPut,
    result=StaffPreferencesOut,
)
async def set_preferences(request: web.Request) -> web.Response:
    business_id = await require_business(request)
    user_id = path_id(request, "user_id")
    body = await parse_json_body(request, StaffPreferencesPut)
    prefs = StaffNotifyPrefs.model_validate(body.model_dump(exclude={"phone"}))
    user = await staff_notices.set_preferences(request.app[SESSIONS], business_id, user_id, prefs, body.phone)
    if user is None:
        raise ApiError(404, "not_found", "no such user")
    return web.json_response(staff_preferences_json(user))
