"""Kill the send at each step, retry it as Temporal would, and count what the recipient really got, on peers
that behave as the providers do (only Telnyx honours an idempotency key; Twilio, FCM and SMTP take every
request as a new message). Each ambiguous branch is resolved as ``activities.ambiguity`` says, and recorded.

Steps: ``claimed`` (killed before the request: not ambiguous), ``lost`` (the provider took the message and
the connection dropped before its answer), ``provider_accepted`` (killed after the answer, before our
commit), ``logged`` (killed after the commit: settled)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from activities.notification_store import (
    begin_attempt,
    claim,
    mark_failed,
    mark_sent,
    reread,
    retry_candidates,
)
from activities.notifications import NotificationActivities, TransientDeliveryError
from activities.providers import Delivery, RenderedMessage, build_providers
from db.engine import SessionFactory
from db.models import Business, NotificationLog
from domain.notification_types import NotificationRequest
from domain.statuses import NotificationStatus
from keeptime.settings import Settings
from tests.appointment_support import eventually
from tests.factories import make_appointment, make_business, make_customer, set_appointment
from tests.peers import ProviderPeer, SmtpPeer

STEPS = ("claimed", "lost", "provider_accepted", "logged")
KINDS = ("twilio", "telnyx", "fcm", "smtp")
CHANNEL = {"twilio": "sms", "telnyx": "sms", "fcm": "push", "smtp": "email"}


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


async def _request(
    sessions: SessionFactory, channel: str, event: str = "appointment.reminder"
) -> NotificationRequest:
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=[channel, "email"])
    appointment = await make_appointment(sessions, business, customer)
    variant = "2h" if event == "appointment.reminder" else None
    return NotificationRequest(
        business_id=business.id,
        entity_type="appointment",
        entity_id=appointment.id,
        event=event,
        variant=variant,
        customer_id=customer.id,
        scheduled_for=appointment.starts_at,
        entity_version=1 if event == "appointment.reminder" else None,
    )


def _delivered(kind: str, smtp: SmtpPeer, provider: ProviderPeer) -> list[Any]:
    return list(smtp.messages) if kind == "smtp" else provider.accepted[CHANNEL[kind]]


async def _rows(sessions: SessionFactory) -> list[NotificationLog]:
    async with sessions() as session:
        return list((await session.execute(select(NotificationLog).order_by(NotificationLog.id))).scalars())


async def _first_attempt(
    sessions: SessionFactory, activities: NotificationActivities, request: NotificationRequest, step: str
) -> None:
    """The first attempt fails at ``step``; then time passes as it does before Temporal's retry (a heartbeat
    timeout, a retry interval): longer than the provider call could have run, so the attempt is over."""
    if step == "lost":
        with pytest.raises(TransientDeliveryError):
            await activities.deliver(request, final_attempt=False)
    else:
        with pytest.raises(SimulatedCrash):
            await activities.deliver(request, final_attempt=False)
    async with sessions() as session:
        await session.execute(
            update(NotificationLog)
            .where(NotificationLog.in_flight_since.is_not(None))
            .values(in_flight_since=NotificationLog.in_flight_since - timedelta(seconds=15))
        )
        await session.commit()


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("kind", KINDS)
async def test_every_ambiguous_branch_is_resolved_and_recorded_for_every_provider_kind(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
    kind: str,
    step: str,
) -> None:
    smtp, provider = peers
    settings = provider_settings.model_copy(
        update={"sms_provider": "telnyx" if kind == "telnyx" else "twilio", "ambiguous_wait_s": 0}
    )
    crash = CrashOnce(step)
    activities = NotificationActivities(sessions, settings, build_providers(settings, http), checkpoint=crash)
    request = await _request(sessions, CHANNEL[kind])
    if step == "lost":
        if kind == "smtp":
            smtp.lose_next()
        else:
            provider.lose_next(CHANNEL[kind])

    await _first_attempt(sessions, activities, request, step)
    retried = await activities.deliver(request, final_attempt=False)

    assert retried.status == "sent"
    [row] = await _rows(sessions)
    assert row.status == NotificationStatus.SENT and row.in_flight_since is None
    ambiguous = step in ("lost", "provider_accepted")
    if not ambiguous:
        assert len(_delivered(kind, smtp, provider)) == 1 and row.resolution is None
    elif kind == "telnyx":  # the provider's key: the resend is answered from its record, no second message
        assert len(_delivered(kind, smtp, provider)) == 1 and provider.replayed == 1
        assert row.resolution == "ambiguous -> resent with the same Idempotency-Key"
    elif kind == "twilio":  # asked: Twilio's Messages list has it (queued), nothing is sent again
        assert len(_delivered(kind, smtp, provider)) == 1 and provider.lookups == 1
        assert row.resolution == "ambiguous -> confirmed queued by lookup"
        assert row.provider_message_id == provider.accepted["sms"][0]["sid"]
    else:  # no key, no way to ask: a reminder prefers a duplicate to nothing, and says so
        assert len(_delivered(kind, smtp, provider)) == 2
        assert (
            row.resolution == f"ambiguous -> no receipts, {kind} cannot be asked -> resent (prefer_duplicate)"
        )
    assert row.attempts == (1 if step == "logged" else 2)


@pytest.mark.parametrize("kind", ("fcm", "smtp"))
async def test_prefer_missing_never_resends_an_ambiguous_message_nor_falls_back(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
    kind: str,
) -> None:
    """A review request is ``review_requests``: ``prefer_missing`` by default. Its channel is not tried again
    and no other channel is either (the first may have arrived)."""
    smtp, provider = peers
    settings = provider_settings.model_copy(update={"ambiguous_wait_s": 0})
    activities = NotificationActivities(
        sessions, settings, build_providers(settings, http), checkpoint=CrashOnce("provider_accepted")
    )
    request = await _request(sessions, CHANNEL[kind], event="appointment.review_request")
    await set_appointment(sessions, request.entity_id, status="completed")
    await _first_attempt(sessions, activities, request, "provider_accepted")
    retried = await activities.deliver(request, final_attempt=False)

    assert (retried.status, retried.reason) == ("failed", "ambiguous_not_resent")
    [row] = await _rows(sessions)  # one row: no fallback channel was claimed
    assert row.status == NotificationStatus.FAILED and row.reason == "ambiguous_not_resent"
    assert (
        row.resolution == f"ambiguous -> no receipts, {kind} cannot be asked -> not resent (prefer_missing)"
    )
    assert len(_delivered(kind, smtp, provider)) == 1


async def test_a_twilio_receipt_confirms_an_ambiguous_sms_and_nothing_is_sent_again(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
    api: TestClient[web.Request, web.Application],
) -> None:
    """The answer is lost; Twilio's status callback (signed, to the URL that carries our key) reaches the API;
    the retry waits for it inside the window and then finds the message sent."""
    _, provider = peers
    provider.callbacks = str(api.make_url(""))  # where https://keeptime.example really is in this test
    provider.lose_next("sms")
    activities = NotificationActivities(sessions, provider_settings, build_providers(provider_settings, http))
    request = await _request(sessions, "sms")

    await _first_attempt(sessions, activities, request, "lost")
    await eventually(lambda: _receipt_in(provider), what="the status callback")
    retried = await activities.deliver(request, final_attempt=False)

    assert retried.status == "sent" and len(provider.accepted["sms"]) == 1
    [row] = await _rows(sessions)
    assert row.resolution == "ambiguous -> confirmed sent by receipt"
    assert row.provider_message_id == provider.accepted["sms"][0]["sid"]


async def _receipt_in(provider: ProviderPeer) -> bool:
    return provider.callbacks_answered == [204]


async def test_without_a_receipt_the_retry_waits_for_the_window_then_the_policy_decides(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
) -> None:
    """Neither a receipt nor Twilio's Messages list answers (the list fails): the retry waits out the
    receipt window, then the category's policy decides, and the resolution says why."""
    _, provider = peers
    provider.lose_next("sms")
    provider.failing_lookups = 100
    activities = NotificationActivities(sessions, provider_settings, build_providers(provider_settings, http))
    request = await _request(sessions, "sms")
    await _first_attempt(sessions, activities, request, "lost")

    with pytest.raises(TransientDeliveryError, match="waiting for its receipt") as waiting:
        await activities.deliver(request, final_attempt=False)
    assert waiting.value.retry_after_s is not None and 100 < waiting.value.retry_after_s <= 120
    last = await activities.deliver(request, final_attempt=True)  # the last attempt cannot wait any longer

    assert last.status == "sent" and len(provider.accepted["sms"]) == 2
    [row] = await _rows(sessions)
    assert row.resolution == (
        "ambiguous -> no receipt in 120 s, lookup: lookup failed (lookup: HTTP 503)"
        " -> resent (prefer_duplicate)"
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_each_provider_declares_what_its_peer_does_with_a_repeated_request(
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
    kind: str,
) -> None:
    """The declaration (``Guarantees``) and the peer agree: the same request twice is one message only where
    the provider honours an idempotency key."""
    smtp, provider_peer = peers
    settings = provider_settings.model_copy(
        update={"sms_provider": "telnyx" if kind == "telnyx" else "twilio"}
    )
    provider = build_providers(settings, http)[CHANNEL[kind]]
    assert provider.name == kind
    address = {"sms": "+4915112345678", "push": "device-token-1", "email": "ada@example.test"}[CHANNEL[kind]]
    delivery = Delivery(
        address=address, message=RenderedMessage(subject="Hi", text="Hello"), idempotency_key="k:1:sms"
    )
    await provider.send(delivery)
    await provider.send(delivery)
    expected = 1 if provider.guarantees.idempotency_header else 2
    assert len(_delivered(kind, smtp, provider_peer)) == expected
    assert (kind == "telnyx") == (provider.guarantees.idempotency_header is not None)


@pytest.mark.parametrize("kind", KINDS)
async def test_an_ambiguous_message_is_not_resent_after_a_cancel(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
    kind: str,
) -> None:
    smtp, provider = peers
    sms = "telnyx" if kind == "telnyx" else "twilio"
    settings = provider_settings.model_copy(update={"sms_provider": sms, "ambiguous_wait_s": 0})
    activities = NotificationActivities(
        sessions, settings, build_providers(settings, http), checkpoint=CrashOnce("provider_accepted")
    )
    request = await _request(sessions, CHANNEL[kind])
    await _first_attempt(sessions, activities, request, "provider_accepted")
    await set_appointment(sessions, request.entity_id, status="cancelled")

    retried = await activities.deliver(request, final_attempt=False)

    assert (retried.status, retried.reason) == ("skipped", "cancelled")
    assert len(_delivered(kind, smtp, provider)) == 1  # the one that may have gone out before the cancel


async def test_of_two_overlapping_attempts_only_one_may_call_the_provider(sessions: SessionFactory) -> None:
    """A heartbeat timeout can pass while an attempt still runs (its worker starved of CPU): Temporal then
    starts a retry elsewhere. Both claimed the row before either began; the compare-and-set on
    ``in_flight_since`` lets one call the provider and stops the other; none may begin after a send."""
    request = await _request(sessions, "sms")
    async with sessions() as first, sessions() as second:
        row_a = await claim(first, request, "sms", "twilio")
        row_b = await claim(second, request, "sms", "twilio")
        assert row_a.id == row_b.id and row_a.in_flight_since is None and row_b.in_flight_since is None
        assert await begin_attempt(first, row_a.id, row_a.in_flight_since)
        assert not await begin_attempt(second, row_b.id, row_b.in_flight_since)
        began = (await reread(first, row_a.id)).in_flight_since
        assert began is not None
        await mark_sent(first, row_a.id, "SM1")
        assert not await begin_attempt(second, row_b.id, began)  # sent: nobody begins again
        assert not await begin_attempt(second, row_b.id, None)


async def test_a_retry_while_the_last_attempt_may_still_run_waits_and_sends_nothing(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
) -> None:
    """A heartbeat timeout passed because the worker was busy, not dead: the retry finds the row in flight
    since a moment ago. It cannot tell, so it waits until the provider call must have ended, sending nothing;
    no policy guesses meanwhile (FCM cannot be asked: ``prefer_duplicate`` would resend at once)."""
    smtp, provider = peers
    settings = provider_settings.model_copy(update={"ambiguous_wait_s": 0})
    activities = NotificationActivities(sessions, settings, build_providers(settings, http))
    request = await _request(sessions, "push")
    async with sessions() as session:
        row = await claim(session, request, "push", "fcm")
        assert await begin_attempt(session, row.id, None)  # the busy attempt, still at the provider

    with pytest.raises(TransientDeliveryError, match="waiting") as waiting:
        await activities.deliver(request, final_attempt=False)

    assert waiting.value.retry_after_s is not None
    assert settings.provider_timeout_s < waiting.value.retry_after_s <= settings.provider_timeout_s + 1
    assert provider.accepted["push"] == [] and smtp.messages == []
    [logged] = await _rows(sessions)
    assert logged.resolution is None and logged.in_flight_since is not None


async def test_a_failed_receipt_for_a_lost_answer_is_no_confirmation_the_next_channel_carries_it(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
    api: TestClient[web.Request, web.Application],
) -> None:
    """Twilio took the SMS, the answer was lost, and its status callback says ``undelivered``: the SMS
    never arrived. It is recorded as undelivered (not "sent by receipt") and the e-mail carries it."""
    smtp, provider = peers
    provider.callbacks = str(api.make_url(""))
    provider.callback_status = "undelivered"
    provider.lose_next("sms")
    activities = NotificationActivities(sessions, provider_settings, build_providers(provider_settings, http))
    request = await _request(sessions, "sms")  # channels: sms, then email

    await _first_attempt(sessions, activities, request, "lost")
    await eventually(lambda: _receipt_in(provider), what="the status callback")
    retried = await activities.deliver(request, final_attempt=False)

    assert (retried.status, retried.channel) == ("sent", "email") and len(smtp.messages) == 1
    sms_row, email_row = await _rows(sessions)
    assert (sms_row.status, sms_row.reason, sms_row.receipt_status) == (
        NotificationStatus.FAILED,
        "undelivered",
        "undelivered",
    )
    assert sms_row.resolution == "ambiguous -> receipt: undelivered -> next channel"
    assert email_row.status == NotificationStatus.SENT and len(provider.accepted["sms"]) == 1


async def test_a_lost_answer_that_twilio_never_turned_into_a_message_is_resent_once(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
) -> None:
    """A 504 from a gateway: the request may or may not have made a message. No receipt comes; after the
    window, Twilio's Messages list has none for this recipient and body, so the resend is the only one."""
    _, provider = peers
    provider.fail_next("sms", 504)
    settings = provider_settings.model_copy(update={"ambiguous_wait_s": 0})
    activities = NotificationActivities(sessions, settings, build_providers(settings, http))
    request = await _request(sessions, "sms")
    await _first_attempt(sessions, activities, request, "lost")

    retried = await activities.deliver(request, final_attempt=False)

    assert retried.status == "sent" and len(provider.accepted["sms"]) == 1 and provider.lookups == 1
    [row] = await _rows(sessions)
    assert row.resolution == "ambiguous -> not found by twilio's lookup -> resent"


async def test_a_resend_sends_the_bytes_of_the_first_attempt_so_telnyx_replays_instead_of_refusing(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
) -> None:
    """The business renames itself between the lost attempt and its retry (the SMS names it). Rendered
    afresh, the body would differ and Telnyx would answer 422 for the reused key, which used to become a
    rejection and an e-mail on top of the SMS that had arrived. The stored rendering is resent instead."""
    smtp, provider = peers
    settings = provider_settings.model_copy(update={"sms_provider": "telnyx"})
    activities = NotificationActivities(sessions, settings, build_providers(settings, http))
    request = await _request(sessions, "sms")
    provider.lose_next("sms")
    await _first_attempt(sessions, activities, request, "lost")
    async with sessions() as session:
        await session.execute(update(Business).values(name="Renamed in between"))
        await session.commit()

    retried = await activities.deliver(request, final_attempt=False)

    assert (retried.status, retried.channel) == ("sent", "sms") and smtp.messages == []
    assert len(provider.accepted["sms"]) == 1 and provider.replayed == 1
    [row] = await _rows(sessions)
    assert row.rendered is not None and "Renamed" not in row.rendered["text"]


async def test_a_422_on_a_telnyx_resend_is_ambiguous_not_a_rejection(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
) -> None:
    """However the key came to be refused, the first request may have made the message: no other channel."""
    smtp, provider = peers
    settings = provider_settings.model_copy(update={"sms_provider": "telnyx"})
    activities = NotificationActivities(sessions, settings, build_providers(settings, http))
    request = await _request(sessions, "sms")
    provider.lose_next("sms")
    await _first_attempt(sessions, activities, request, "lost")
    provider.fail_next("sms", 422)

    with pytest.raises(TransientDeliveryError, match="resend refused"):
        await activities.deliver(request, final_attempt=False)
    provider.fail_next("sms", 422)
    last = await activities.deliver(request, final_attempt=True)

    assert (last.status, last.reason) == ("failed", "outcome_unknown") and smtp.messages == []
    [row] = await _rows(sessions)  # no e-mail row: the SMS may have arrived
    assert row.reason == "outcome_unknown" and row.in_flight_since is not None  # the sweep resolves it


async def test_a_last_attempt_that_gets_no_answer_falls_back_to_no_other_channel(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
) -> None:
    """A 504 on the last attempt: the push may have been delivered. Falling back to e-mail would send one
    reminder on two channels; the row says ``outcome_unknown`` and the retry sweep picks it up."""
    smtp, provider = peers
    activities = NotificationActivities(sessions, provider_settings, build_providers(provider_settings, http))
    request = await _request(sessions, "push")
    provider.fail_next("push", 504)

    last = await activities.deliver(request, final_attempt=True)

    assert (last.status, last.reason) == ("failed", "outcome_unknown") and smtp.messages == []
    [row] = await _rows(sessions)
    assert row.channel is not None and row.channel.value == "push" and row.reason == "outcome_unknown"
    async with sessions() as session:
        [(row_id, _payload, _key)] = await retry_candidates(
            session, 0, datetime.now(UTC) - timedelta(hours=1), 3, 10
        )
    assert row_id == row.id


async def test_the_last_attempt_outlasts_a_previous_attempt_that_may_still_run(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
) -> None:
    """The previous attempt is still at the provider (its worker was busy) when the last attempt starts.
    The last attempt has nobody to hand a wait to: it waits in place, finds the message sent by the other
    attempt and sends nothing (it used to resend at once: FCM cannot be asked, prefer_duplicate)."""
    smtp, provider = peers
    settings = provider_settings.model_copy(update={"ambiguous_wait_s": 0, "provider_timeout_s": 2.0})
    activities = NotificationActivities(sessions, settings, build_providers(settings, http))
    request = await _request(sessions, "push")
    async with sessions() as session:
        row = await claim(session, request, "push", "fcm")
        assert await begin_attempt(session, row.id, None)  # the busy attempt, at the provider now

    async def the_other_attempt_finishes() -> None:
        await asyncio.sleep(1.0)
        async with sessions() as session:
            await mark_sent(session, row.id, "projects/p/messages/from-the-busy-attempt")

    finishing = asyncio.create_task(the_other_attempt_finishes())
    last = await activities.deliver(request, final_attempt=True)
    await finishing

    assert (last.status, last.provider_message_id) == ("sent", "projects/p/messages/from-the-busy-attempt")
    assert provider.accepted["push"] == [] and smtp.messages == []


async def test_the_last_attempt_does_not_resend_on_a_channel_the_previous_attempt_saw_rejected(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
) -> None:
    """The busy attempt ends with the provider's rejection while the last attempt waits for it: the last
    attempt must not send on that channel again (it used to), just as it would not had the rejection come
    before it began; the next channel carries the message."""
    smtp, provider = peers
    settings = provider_settings.model_copy(update={"ambiguous_wait_s": 0, "provider_timeout_s": 2.0})
    activities = NotificationActivities(sessions, settings, build_providers(settings, http))
    request = await _request(sessions, "push")
    async with sessions() as session:
        row = await claim(session, request, "push", "fcm")
        assert await begin_attempt(session, row.id, None)  # the busy attempt, at the provider now

    async def the_other_attempt_is_rejected() -> None:
        await asyncio.sleep(1.0)
        async with sessions() as session:
            await mark_failed(session, row.id, "FCM 400: INVALID_ARGUMENT", "provider_rejected")

    rejecting = asyncio.create_task(the_other_attempt_is_rejected())
    last = await activities.deliver(request, final_attempt=True)
    await rejecting

    assert (last.status, last.channel) == ("sent", "email")  # the next channel carries it
    assert provider.accepted["push"] == [] and len(smtp.messages) == 1


async def test_more_deliveries_than_the_pool_carries_all_finish(
    database_url: str,
    sessions: SessionFactory,
    provider_settings: Settings,
    http: aiohttp.ClientSession,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """Each delivery holds two connections at once. Twelve at once on a pool of four: ungated, the first four
    hold one each and wait for a second that never comes (until the pool times out); gated, all go out."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from db.engine import create_session_factory

    smtp, _ = peers
    small = create_async_engine(database_url, pool_size=4, max_overflow=0, pool_timeout=5)
    try:
        narrow = create_session_factory(small)
        activities = NotificationActivities(
            narrow, provider_settings, build_providers(provider_settings, http)
        )
        requests = [await _request(sessions, "email") for _ in range(12)]
        results = await asyncio.wait_for(
            asyncio.gather(*(activities.deliver(r, final_attempt=False) for r in requests)), 60
        )
    finally:
        await small.dispose()
    assert [r.status for r in results] == ["sent"] * 12
    assert len(smtp.messages) == 12


async def test_the_telnyx_peer_forgets_a_key_after_its_window_as_telnyx_does(
    peers: tuple[SmtpPeer, ProviderPeer], http: aiohttp.ClientSession
) -> None:
    """Telnyx answers a repeated Idempotency-Key from its record for 24 h; after that the same request is a
    new message. The peer does the same (its window shortened here), so a resend our ``Guarantees`` allow
    only inside the window is tested against what happens outside it."""
    from tests.peers import TELNYX_KEY

    _, peer = peers
    url = f"{peer.base_url}/v2/messages"
    headers = {"Authorization": f"Bearer {TELNYX_KEY}", "Idempotency-Key": "k-1"}
    body = {"from": "+15550000000", "to": "+4915100000000", "text": "hi"}
    for _ in range(2):
        async with http.post(url, json=body, headers=headers) as answer:
            assert answer.status == 200
    assert len(peer.accepted["sms"]) == 1 and peer.replayed == 1
    peer.telnyx_key_ttl_s = 0.0
    async with http.post(url, json=body, headers=headers) as answer:
        assert answer.status == 200
    assert len(peer.accepted["sms"]) == 2


async def test_a_resend_with_telnyxs_key_waits_until_telnyx_can_have_recorded_the_first(
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
    http: aiohttp.ClientSession,
) -> None:
    """Telnyx answers the first request 3 s late, after our 1 s timeout. Its record of the key exists only
    once that answer does ("Only successful responses are replayed"); what it does with the key meanwhile is
    not documented, and the peer takes the costly reading (a second message). A resend at the timeout and a
    second, as for providers without a key, came while the first was still being answered; it waits
    ``keyed_resend_after_s`` instead, and is answered from the record."""
    smtp, provider = peers
    settings = provider_settings.model_copy(
        update={"sms_provider": "telnyx", "provider_timeout_s": 1.0, "keyed_resend_after_s": 4.0}
    )
    activities = NotificationActivities(sessions, settings, build_providers(settings, http))
    request = await _request(sessions, "sms")
    provider.slow_next("sms", 3.0)
    with pytest.raises(TransientDeliveryError):
        await activities.deliver(request, final_attempt=False)  # timed out: the outcome is unknown
    await asyncio.sleep(2.1)  # past the timeout and a second: the first is still being answered
    with pytest.raises(TransientDeliveryError, match="waiting") as waiting:
        await activities.deliver(request, final_attempt=False)
    assert waiting.value.retry_after_s is not None and 0 < waiting.value.retry_after_s <= 2.0
    assert provider.concurrent_same_key == 0 and len(provider.accepted["sms"]) == 1
    await asyncio.sleep(waiting.value.retry_after_s)

    retried = await activities.deliver(request, final_attempt=False)

    assert (retried.status, retried.channel) == ("sent", "sms") and smtp.messages == []
    assert len(provider.accepted["sms"]) == 1 and provider.replayed == 1 and provider.concurrent_same_key == 0
    [row] = await _rows(sessions)
    assert row.resolution == "ambiguous -> resent with the same Idempotency-Key"


async def test_the_telnyx_peer_makes_a_second_message_for_a_key_still_being_answered(
    peers: tuple[SmtpPeer, ProviderPeer], http: aiohttp.ClientSession
) -> None:
    """The peer's reading of what Telnyx leaves undocumented: no record before the first response exists."""
    from tests.peers import TELNYX_KEY

    _, peer = peers
    url = f"{peer.base_url}/v2/messages"
    headers = {"Authorization": f"Bearer {TELNYX_KEY}", "Idempotency-Key": "k-2"}
    body = {"from": "+15550000000", "to": "+4915100000000", "text": "hi"}
    peer.slow_next("sms", 1.0)

    async def post() -> int:
        async with http.post(url, json=body, headers=headers) as answer:
            return answer.status

    first = asyncio.create_task(post())
    await asyncio.sleep(0.3)
    assert await post() == 200  # while the first is still being answered
    assert await first == 200
    assert len(peer.accepted["sms"]) == 2 and peer.concurrent_same_key == 1 and peer.replayed == 0
    assert await post() == 200  # after: answered from the record
    assert len(peer.accepted["sms"]) == 2 and peer.replayed == 1
