"""Statistics through the real HTTP API: a business's figures on demand, the platform's days for admins."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient

from db.engine import SessionFactory
from db.models import Appointment, PlatformDailyStats
from domain.statuses import AppointmentStatus

Client = TestClient[web.Request, web.Application]
ADMIN = {"Authorization": "Bearer dev-admin-key"}


async def test_business_figures_on_demand_and_platform_days_for_admins(
    api: Client, sessions: SessionFactory
) -> None:
    created = await (
        await api.post("/v1/businesses", json={"name": "Salon", "time_zone": "Europe/Berlin"}, headers=ADMIN)
    ).json()
    auth = {"Authorization": f"Bearer {created['api_key']}"}
    business_id = created["business"]["id"]
    customer = await (await api.post("/v1/customers", json={"name": "Ada"}, headers=auth)).json()
    empty = await (await api.get("/v1/businesses/me/stats", headers=auth)).json()
    assert (empty["total_appointments"], empty["completion_rate"]) == (0, None)
    past = datetime.now(UTC) - timedelta(days=3)
    async with sessions() as session:
        for status in (
            AppointmentStatus.COMPLETED,
            AppointmentStatus.COMPLETED,
            AppointmentStatus.COMPLETED,
            AppointmentStatus.NO_SHOW,
        ):
            session.add(
                Appointment(
                    business_id=business_id,
                    customer_id=customer["id"],
                    status=status,
                    starts_at=past,
                    ends_at=past + timedelta(hours=1),
                )
            )
        session.add(
            PlatformDailyStats(
                day=date(2026, 1, 15),
                appointments_by_status={"completed": 3},
                new_customers=2,
                active_businesses=1,
                reviews=0,
            )
        )
        await session.commit()
    figures = await (await api.get("/v1/businesses/me/stats", headers=auth)).json()
    assert (
        figures["total_appointments"],
        figures["completed"],
        figures["no_shows"],
        figures["completion_rate"],
    ) == (4, 3, 1, 0.75)
    assert (await api.get("/v1/stats/platform", headers=auth)).status == 401
    days = await (await api.get("/v1/stats/platform?days=7", headers=ADMIN)).json()
    assert days["items"] == [
        {
            "day": "2026-01-15",
            "appointments_by_status": {"completed": 3},
            "new_customers": 2,
            "active_businesses": 1,
            "reviews": 0,
            "average_rating": None,
        }
    ]
    assert (await api.get("/v1/stats/platform?days=0", headers=ADMIN)).status == 422
