"""Kill the send at each step, retry it as Temporal would, and count what the recipient got."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import select

from activities.notifications import NotificationActivities
from activities.providers import build_providers
from db.engine import SessionFactory
from db.models import NotificationLog
from domain.notification_types import NotificationRequest
from domain.statuses import NotificationStatus
from keeptime.settings import Settings
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer

STEPS = ("claimed", "provider_accepted", "logged")


class SimulatedCrash(BaseException):
    """Not an Exception: nothing in the activity may catch it, as nothing survives a killed process."""


class CrashOnce:
    def __init__(self, step: str) -> None:
        self.step = step
        self.fired = False

    def __call__(self, step: str) -> None:
        if step == self.step and not self.fired:
            self.fired = True
            raise SimulatedCrash(step)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _request(sessions: SessionFactory, channel: str) -> NotificationRequest:
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=[channel])
    appointment = await make_appointment(sessions, business, customer)
    return NotificationRequest(
        business_id=business.id,
        entity_type="appointment",
        entity_id=appointment.id,
        event="appointment.reminder",
        variant="2h",
        customer_id=customer.id,
        scheduled_for=appointment.starts_at,
        entity_version=1,
    )


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("channel", ["sms", "push"])
async def test_a_crash_at_any_step_never_sends_twice_through_idempotent_providers(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
    channel: str,
    step: str,
) -> None:
    _, provider = peers
    crash = CrashOnce(step)
    activities = NotificationActivities(
        sessions, provider_settings, build_providers(provider_settings, http), checkpoint=crash
    )
    request = await _request(sessions, channel)

    with pytest.raises(SimulatedCrash):
        await activities.deliver(request, final_attempt=False)
    retried = await activities.deliver(request, final_attempt=False)

    assert crash.fired and retried.status == "sent"
    assert len(provider.accepted[channel]) == 1  # the recipient got exactly one message
    async with sessions() as session:
        [row] = (await session.execute(select(NotificationLog))).scalars()
    assert row.status == NotificationStatus.SENT
    assert row.provider_message_id == retried.provider_message_id
    assert row.attempts == (1 if step == "logged" else 2)


@pytest.mark.parametrize("step", STEPS)
async def test_email_after_a_crash_carries_the_same_message_id(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
    step: str,
) -> None:
    """SMTP has no idempotency key: only a crash between the server's 250 and our commit re-sends, and then
    with the same Message-ID, which receiving systems use to drop the duplicate."""
    smtp, _ = peers
    activities = NotificationActivities(
        sessions, provider_settings, build_providers(provider_settings, http), checkpoint=CrashOnce(step)
    )
    request = await _request(sessions, "email")
    with pytest.raises(SimulatedCrash):
        await activities.deliver(request, final_attempt=False)
    await activities.deliver(request, final_attempt=False)

    expected = 2 if step == "provider_accepted" else 1
    assert len(smtp.messages) == expected
    assert len({m["Message-ID"] for m in smtp.messages}) == 1
