"""Statistics: a business's own figures (recomputed on request) and the platform's daily figures (admin)."""

from __future__ import annotations

from aiohttp import web

from api.auth import require_admin, require_business
from api.keys import SESSIONS
from api.openapi import RouteTable
from api.queries import PlatformStatsQuery, parse_query
from db import stats

routes = RouteTable("statistics")


@routes.get(
    "/v1/businesses/me/stats",
    "This business's figures, recomputed now (also stored daily by the business-stats job)",
    ok={"200": "statistics"},
)
async def business_stats(request: web.Request) -> web.Response:
    """``GET /v1/businesses/me/stats``: total appointments, completion rate, average rating, review count."""
    business_id = await require_business(request)
    async with request.app[SESSIONS]() as session:
        row = await stats.refresh_business_stats(session, business_id)
    return web.json_response(
        {
            "business_id": row.business_id,
            "total_appointments": row.total_appointments,
            "completed": row.completed,
            "no_shows": row.no_shows,
            "cancelled": row.cancelled,
            "completion_rate": row.completion_rate,
            "average_rating": row.average_rating,
            "review_count": row.review_count,
            "computed_at": row.computed_at.isoformat(),
        }
    )


@routes.get(
    "/v1/stats/platform",
    "The platform's daily figures (platform-daily-stats job), newest first (?days=30)",
    ok={"200": "items"},
    query=PlatformStatsQuery,
)
async def platform_stats(request: web.Request) -> web.Response:
    """``GET /v1/stats/platform?days=30``: the stored daily figures, newest first (admin)."""
    require_admin(request)
    days = parse_query(request, PlatformStatsQuery).days
    async with request.app[SESSIONS]() as session:
        rows = await stats.platform_days(session, days)
    return web.json_response(
        {
            "items": [
                {
                    "day": r.day.isoformat(),
                    "appointments_by_status": r.appointments_by_status,
                    "new_customers": r.new_customers,
                    "active_businesses": r.active_businesses,
                    "reviews": r.reviews,
                    "average_rating": r.average_rating,
                }
                for r in rows
            ]
        }
    )
