"""The webhook relay against real receivers on 127.0.0.1 and the real PostgreSQL (issue 33): every committed
event arrives signed as the Standard Webhooks package verifies it, per entity in order, retried on failure,
and no slow or hostile endpoint delays another."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import keeptime_client
import pytest
import standardwebhooks
from sqlalchemy import select, update

from activities import webhooks as relay_module
from db import webhooks as store
from db.engine import SessionFactory
from db.models import EventRecord, InAppNotification, StaffUser, WebhookDelivery, WebhookEndpoint
from domain import webhooks as rules
from keeptime.settings import Settings
from services import webhooks
from tests.appointment_support import eventually
from tests.factories import make_business
from tests.webhook_support import Receiver, receiving, record_change, relaying


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, webhooks_allow_private=True)


async def _endpoint(
    sessions: SessionFactory, settings: Settings, business_id: int, url: str, **values: object
) -> WebhookEndpoint:
    row, created = await webhooks.create(
        sessions, settings, business_id, {"url": url, "description": None, "event_types": None, **values}
    )
    assert created
    return row


async def _attempts(sessions: SessionFactory, endpoint_id: int) -> list[tuple[int | None, bool, str | None]]:
    async with sessions() as session:
        rows = await store.attempts(session, endpoint_id, None, 100)
    return [(a.status_code, a.ok, a.error) for a in reversed(rows)]


async def test_committed_events_arrive_signed_once_each_and_only_those_asked_for(
    sessions: SessionFactory, settings: Settings
) -> None:
    business = await make_business(sessions)
    before = await record_change(sessions, business.id, 1, "booked")  # before any endpoint: not sent
    async with receiving() as receiver:
        every = await _endpoint(sessions, settings, business.id, receiver.url("every"))
        cancels = await _endpoint(
            sessions, settings, business.id, receiver.url("cancels"), event_types=["appointment.cancelled"]
        )
        ids = [
            await record_change(sessions, business.id, 7, "booked"),
            await record_change(sessions, business.id, 7, "cancelled"),
            await record_change(sessions, business.id, 8, "booked"),
        ]
        async with relaying(sessions, settings):
            await eventually(lambda: _count(receiver, "every", 3), what="three deliveries")
            await eventually(lambda: _count(receiver, "cancels", 1), what="the cancel")

            async def settled() -> bool:  # the receiver has a request before its attempt is recorded
                return len(await _attempts(sessions, every.id)) >= 3

            await eventually(settled, what="the three attempts recorded")
        got_ids = receiver.ids("every")  # entities go side by side; each entity's events in order
        assert sorted(got_ids) == sorted(f"evt_{i}" for i in ids) and f"evt_{before}" not in got_ids
        assert got_ids.index(f"evt_{ids[0]}") < got_ids.index(f"evt_{ids[1]}")
        assert receiver.ids("cancels") == [f"evt_{ids[1]}"]
        for got in receiver.on("every"):
            # the specification's own verifier, and ours, accept it; a tampered body is refused by both
            assert (
                standardwebhooks.Webhook(every.secret).verify(got.body, got.headers)["id"]
                == got.headers["webhook-id"]
            )
            assert (
                keeptime_client.verify(every.secret, got.headers, got.body)["id"] == got.headers["webhook-id"]
            )
            with pytest.raises(standardwebhooks.WebhookVerificationError):
                standardwebhooks.Webhook(every.secret).verify(got.body + b" ", got.headers)
            with pytest.raises(keeptime_client.WebhookVerificationError):
                keeptime_client.verify(cancels.secret, got.headers, got.body)
        event = next(r.event for r in receiver.on("every") if r.headers["webhook-id"] == f"evt_{ids[1]}")
        assert (event["type"], event["entity"], event["data"]["status"]) == (
            "appointment.cancelled",
            "appointment:7",
            "cancelled",
        )
        assert await _attempts(sessions, every.id) == [(204, True, None)] * 3


async def _count(receiver: Receiver, name: str, n: int) -> bool:
    return len(receiver.on(name)) >= n


async def test_a_failed_delivery_is_retried_and_holds_back_only_its_own_entity(
    sessions: SessionFactory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "RETRY_FIRST", timedelta(seconds=1))
    business = await make_business(sessions)
    async with receiving() as receiver:
        endpoint = await _endpoint(sessions, settings, business.id, receiver.url("app"))
        receiver.plans["app"] = [("status", 500)]  # the first request fails
        first = await record_change(sessions, business.id, 1, "booked")
        second = await record_change(sessions, business.id, 1, "confirmed")
        other = await record_change(sessions, business.id, 2, "booked")
        async with relaying(sessions, settings):
            await eventually(lambda: _count(receiver, "app", 4), what="the retry and the rest")
        # entity 1: its first event failed, was retried, and only then came its second; entity 2 its own
        got = receiver.ids("app")
        assert [i for i in got if i != f"evt_{other}"] == [f"evt_{i}" for i in (first, first, second)]
        assert got.count(f"evt_{other}") == 1
        statuses = [status for status, _, _ in await _attempts(sessions, endpoint.id)]
        assert sorted(s or 0 for s in statuses) == [204, 204, 204, 500]
        async with sessions() as session:
            failing = await session.scalar(
                select(WebhookEndpoint.failing_since).where(WebhookEndpoint.id == endpoint.id)
            )
        assert failing is None  # a success clears the failure record


async def test_a_slow_dead_or_hostile_endpoint_never_delays_another(
    sessions: SessionFactory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay_module, "ATTEMPT_TIMEOUT_S", 5.0)
    business = await make_business(sessions)
    neighbour = await make_business(sessions, name="Next door")
    async with receiving() as receiver:
        dead_port = Receiver().port  # nothing listens there
        bad = {
            "hang": await _endpoint(sessions, settings, business.id, receiver.url("hang")),
            "huge": await _endpoint(sessions, settings, business.id, receiver.url("huge")),
            "redirect": await _endpoint(sessions, settings, business.id, receiver.url("redirect")),
            "close": await _endpoint(sessions, settings, business.id, receiver.url("close")),
            "dead": await _endpoint(sessions, settings, business.id, f"http://127.0.0.1:{dead_port}/hook"),
        }
        good = await _endpoint(sessions, settings, business.id, receiver.url("good"))
        theirs = await _endpoint(sessions, settings, neighbour.id, receiver.url("theirs"))
        receiver.always.update(
            {"hang": ("hang", 30), "huge": ("huge", 0), "redirect": ("redirect", 0), "close": ("close", 0)}
        )
        async with relaying(sessions, settings):
            mine = [await record_change(sessions, business.id, n, "booked") for n in (1, 2)]
            their = await record_change(sessions, neighbour.id, 9, "booked")
            await eventually(lambda: _count(receiver, "good", 2), timeout_s=5, what="the good endpoint")
            await eventually(lambda: _count(receiver, "theirs", 1), timeout_s=5, what="another business's")
            assert receiver.ids("good") == [f"evt_{i}" for i in mine] and receiver.ids("theirs") == [
                f"evt_{their}"
            ]
            await eventually(
                lambda: _logged(sessions, bad["hang"].id, 2),
                timeout_s=20,
                what="the hanging endpoint's timeouts",
            )
            for name in ("huge", "redirect", "close", "dead"):
                await eventually(partial(_logged, sessions, bad[name].id, 1), what=f"{name}'s attempts")
            # a request reaches the receiver before its attempt is recorded: wait for the records too
            await eventually(partial(_logged, sessions, good.id, 2), what="the good endpoint's attempts")
            await eventually(partial(_logged, sessions, theirs.id, 1), what="the other business's attempt")
        outcomes = {name: (await _attempts(sessions, row.id))[0] for name, row in bad.items()}
        assert outcomes["hang"][2] == "no answer within 5 s"
        assert outcomes["huge"][:2] == (200, True)  # answered 200: the 10 MB after the first 4 KiB is dropped
        assert outcomes["redirect"][0] == 302 and "redirects are not followed" in (
            outcomes["redirect"][2] or ""
        )
        assert receiver.on("elsewhere") == []  # the redirect was not followed
        assert outcomes["close"][:2] == (None, False) and "Disconnected" in (outcomes["close"][2] or "")
        assert outcomes["dead"][:2] == (None, False) and outcomes["dead"][2]
        assert await _attempts(sessions, theirs.id) == [(204, True, None)]
        # the good endpoint was answered long before the hanging one's first attempt gave up (5 s)
        async with sessions() as session:
            good_at = max(a.at for a in await store.attempts(session, good.id, None, 10))
            hang_at = min(a.at for a in await store.attempts(session, bad["hang"].id, None, 10))
        assert good_at < hang_at - timedelta(seconds=3)
        assert len(await _attempts(sessions, good.id)) == 2


async def _logged(sessions: SessionFactory, endpoint_id: int, n: int) -> bool:
    return len(await _attempts(sessions, endpoint_id)) >= n


async def test_three_days_of_failures_give_up_the_delivery_and_disable_the_endpoint_telling_the_admins(
    sessions: SessionFactory, settings: Settings
) -> None:
    business = await make_business(sessions)
    async with sessions() as session, session.begin():
        session.add(StaffUser(business_id=business.id, name="Ada", email="ada@studio.test", roles=["admin"]))
    endpoint = await _endpoint(sessions, settings, business.id, "http://127.0.0.1:9/hook")
    event_id = await record_change(sessions, business.id, 1, "booked")
    async with sessions() as session:
        await store.fan_in(session, endpoint.id)
        delivery = await session.scalar(select(WebhookDelivery).where(WebhookDelivery.event_id == event_id))
    assert delivery is not None
    failure = store.AttemptOutcome(ok=False, status_code=503, latency_ms=5, error="answered 503")
    t0 = datetime.now(UTC)
    waits = rules.retry_schedule()
    at, states = t0, []
    for wait in [timedelta(0), *waits]:
        at += wait
        async with sessions() as session:
            states.append((await store.settle(session, delivery.id, failure, at, 0.0)).state)
    assert states == ["pending"] * len(waits) + ["failed"]  # every wait of the schedule, then given up
    async with sessions() as session:
        row = await session.get(WebhookEndpoint, endpoint.id)
        assert (
            row is not None and not row.enabled and row.disabled_reason == "no delivery succeeded for 3 days"
        )
        told = (
            await session.scalars(select(EventRecord).where(EventRecord.type == "webhook_endpoint.disabled"))
        ).all()
        assert [e.payload["endpoint_id"] for e in told] == [endpoint.id]
        notices = (await session.scalars(select(InAppNotification))).all()
        assert [(n.event, n.entity_id) for n in notices] == [("webhook_endpoint.disabled", endpoint.id)]
    # enabling it again clears the record; a later failure starts a new three days
    enabled = await webhooks.update(sessions, settings, business.id, endpoint.id, {"enabled": True})
    assert enabled is not None and enabled.enabled and enabled.failing_since is None


async def test_a_rotation_signs_with_both_secrets_for_24_hours(
    sessions: SessionFactory, settings: Settings
) -> None:
    business = await make_business(sessions)
    async with receiving() as receiver:
        endpoint = await _endpoint(sessions, settings, business.id, receiver.url("app"))
        old = endpoint.secret
        rotated = await webhooks.rotate(sessions, business.id, endpoint.id, "rotation-1")
        assert rotated is not None and rotated.secret != old
        again = await webhooks.rotate(sessions, business.id, endpoint.id, "rotation-1")
        assert again is not None and again.secret == rotated.secret  # the repeat rotated nothing
        await record_change(sessions, business.id, 1, "booked")
        async with relaying(sessions, settings):
            await eventually(lambda: _count(receiver, "app", 1))
        got = receiver.on("app")[0]
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        for secret in (old, rotated.secret):
            standardwebhooks.Webhook(secret).verify(got.body, got.headers)
        async with sessions() as session, session.begin():
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint.id)
                .values(previous_secret_expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        await record_change(sessions, business.id, 1, "confirmed")
        async with relaying(sessions, settings):
            await eventually(lambda: _count(receiver, "app", 2))
        later = receiver.on("app")[1]
        standardwebhooks.Webhook(rotated.secret).verify(later.body, later.headers)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(old).verify(later.body, later.headers)


async def test_removing_an_endpoint_while_the_relay_delivers_to_it_never_fails(
    sessions: SessionFactory, settings: Settings
) -> None:
    """The removal's locks (the endpoint, then its deliveries) and an attempt's outcome once deadlocked."""
    business = await make_business(sessions)
    async with receiving() as receiver, relaying(sessions, settings, poll_s=0.01):
        for round_ in range(8):
            endpoint = await _endpoint(sessions, settings, business.id, receiver.url(f"r{round_}"))
            for n in range(12):
                await record_change(sessions, business.id, 100 * round_ + n, "booked")
            await eventually(partial(_count, receiver, f"r{round_}", 1 + round_ % 4), what="some deliveries")
            assert await webhooks.remove(sessions, business.id, endpoint.id)  # mid-delivery, no deadlock
