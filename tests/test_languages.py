"""Every customer in their language (issue 12, part 4) on the real AppointmentWorkflow (v2 time-skipping) and
through the API: a German customer gets German messages with German dates, a customer whose language has no
catalog gets the business's language, the admin alert is in the business's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import Message
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient
from temporalio.testing import WorkflowEnvironment

from db.appointments import appointment_snapshot
from db.engine import SessionFactory
from db.models import Appointment
from keeptime.settings import Settings
from tests.appointment_support import NO_QUIET_HOURS, eventually, until_next
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from tests.test_notification_delivery import parts
from workflows.starts import ensure_workflow

Client = TestClient[web.Request, web.Application]
ADMIN = {"Authorization": "Bearer dev-admin-key"}


def _to(smtp: SmtpPeer, address: str) -> list[Message]:
    return [m for m in smtp.messages if str(m["To"]) == address]


def _plain(message: Message) -> str:
    return parts(message)["text/plain"]


async def test_each_customer_hears_from_the_business_in_their_language(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    smtp, _ = peers
    env = skipping_env
    business = await make_business(
        sessions, locale="es", automation={"quiet_hours": NO_QUIET_HOURS.model_dump(mode="json")}
    )
    people = {
        "de": await make_customer(sessions, business, email="anna@example.test", locale="de_AT"),
        "pt": await make_customer(sessions, business, email="joao@example.test", locale="pt_BR"),
        "en": await make_customer(sessions, business, email="ada@example.test", locale="en"),
    }
    starts_at = (datetime.now(UTC) + timedelta(days=2)).replace(hour=13, minute=0, second=0, microsecond=0)
    async with running_worker(env.client, sessions, provider_settings):
        with env.with_time_skipping_disabled():
            handles = []
            for customer in people.values():
                row = await make_appointment(
                    sessions, business, customer, starts_at=starts_at, service="Corte"
                )
                async with sessions() as session:
                    loaded = await session.get(Appointment, row.id)
                    assert loaded is not None
                    handles.append(
                        await ensure_workflow(env.client, await appointment_snapshot(session, loaded))
                    )
        for handle in handles:
            await until_next(handle, "reminder")
        await eventually(lambda: _count(smtp, 6), what="three confirmations and three admin alerts")
    german = _to(smtp, "anna@example.test")[0]
    assert str(german["Subject"]).startswith("Ihre Buchung bei Studio Nord")
    assert "Hallo Ada,\r\n\r\nIhr Termin Corte am " in _plain(german)  # the factory's name, German words
    assert "gebucht.\r\n\r\nVerschieben: " in _plain(german)
    local = starts_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{local.day}. " in _plain(german) and "(Europe/Berlin)" in _plain(german)
    spanish = _to(smtp, "joao@example.test")[0]  # pt_BR has no catalog: the business's Spanish
    assert str(spanish["Subject"]).startswith("Tu reserva en Studio Nord")
    english = _to(smtp, "ada@example.test")[0]
    assert str(english["Subject"]).startswith("Your booking at Studio Nord")
    alerts = _to(smtp, "owner@studio.test")
    assert len(alerts) == 3 and all(str(m["Subject"]).startswith("Nueva reserva #") for m in alerts)


async def _count(smtp: SmtpPeer, expected: int) -> bool:
    return len(smtp.messages) >= expected


async def test_the_api_takes_locales_with_a_catalog_or_a_fallback(api: Client) -> None:
    bad = await api.post(
        "/v1/businesses",
        json={"name": "Chez Nous", "time_zone": "Europe/Paris", "locale": "fr"},
        headers=ADMIN,
    )
    assert bad.status == 422 and [f["field"] for f in (await bad.json())["fields"]] == ["locale"]
    created = await (
        await api.post(
            "/v1/businesses",
            json={"name": "Peluquería Sol", "time_zone": "Europe/Madrid", "locale": "es"},
            headers=ADMIN,
        )
    ).json()
    assert created["business"]["locale"] == "es"
    auth = {"Authorization": f"Bearer {created['api_key']}"}
    customer = await api.post("/v1/customers", json={"name": "João", "locale": "pt_BR"}, headers=auth)
    assert customer.status == 201  # no Portuguese catalog: messages fall back to the business's Spanish
    unknown = await api.post("/v1/customers", json={"name": "X", "locale": "xx_QQ"}, headers=auth)
    assert unknown.status == 422
    changed = await api.patch("/v1/businesses/me", json={"locale": "de_CH"}, headers=auth)
    assert changed.status == 200 and (await changed.json())["locale"] == "de_CH"
    refused = await api.patch("/v1/businesses/me", json={"locale": "pt_BR"}, headers=auth)
    assert refused.status == 422
