"""Customers choose what they receive (issue 12, part 3): categories, the one-click unsubscribe of RFC 8058,
and the delivery layer that honours both; transactional messages always go out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient
from temporalio.testing import WorkflowEnvironment

from activities.notifications import NotificationActivities
from api.keys import SETTINGS
from db.engine import SessionFactory
from db.tenants import set_preference
from domain.notification_events import EVENTS
from domain.preferences import Preferences, unsubscribe_token, valid_unsubscribe_token
from keeptime.settings import Settings
from tests.appointment_support import booked, log_of, until_next
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from tests.test_api_appointments import tenant
from tests.test_appointment_workflow import finished
from tests.test_notification_delivery import log_rows, reminder

Client = TestClient[web.Request, web.Application]
SECRET = "dev-webhook-secret"


def test_every_event_has_a_category_and_only_transactional_ones_cannot_be_turned_off() -> None:
    categories = {event: spec.category for event, spec in EVENTS.items()}
    assert categories["appointment.reminder"] == "reminders"
    assert (
        categories["appointment.review_request"]
        == categories["appointment.review_reminder"]
        == "review_requests"
    )
    assert categories["broadcast.message"] == "announcements"
    assert {categories[e] for e in ("appointment.booked", "appointment.cancelled", "policy.expired")} == {
        "transactional"
    }
    off = Preferences(reminders=False, review_requests=False, announcements=False)
    assert [c for c in set(categories.values()) if off.allows(c)] == ["transactional"]


def test_stored_preferences_are_read_tolerantly_and_tokens_are_per_customer_and_category() -> None:
    assert Preferences.from_stored({"reminders": False, "junk": 1, "announcements": "no"}) == Preferences(
        reminders=False
    )
    assert Preferences.from_stored(None) == Preferences() == Preferences.from_stored([1])
    token = unsubscribe_token(SECRET, 7, "reminders")
    assert valid_unsubscribe_token(SECRET, 7, "reminders", token)
    assert not valid_unsubscribe_token(SECRET, 8, "reminders", token)
    assert not valid_unsubscribe_token(SECRET, 7, "announcements", token)
    assert not valid_unsubscribe_token("other-secret", 7, "reminders", token)


async def test_a_reminder_the_customer_turned_off_is_skipped_with_the_category_and_carries_no_unsubscribe(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, _ = peers
    business = await make_business(sessions)
    starts = datetime(2031, 3, 14, 13, 0, tzinfo=UTC)
    off = await make_customer(sessions, business, channel_order=["email"], preferences={"reminders": False})
    on = await make_customer(sessions, business, channel_order=["email"], email="bo@example.test")
    skipped = await notifier.deliver(
        reminder(await make_appointment(sessions, business, off, starts_at=starts)), final_attempt=False
    )
    assert (skipped.status, skipped.reason) == ("skipped", "preference: reminders")
    booked_for_off = await make_appointment(sessions, business, off, starts_at=starts + timedelta(days=1))
    transactional = reminder(booked_for_off, event="appointment.booked", variant=None, scheduled_for=None)
    assert (await notifier.deliver(transactional, final_attempt=False)).status == "sent"  # always goes out
    sent = await notifier.deliver(
        reminder(await make_appointment(sessions, business, on, starts_at=starts)), final_attempt=False
    )
    assert sent.status == "sent"
    booked_mail, reminder_mail = smtp.messages
    assert booked_mail["List-Unsubscribe"] is None  # transactional: nothing to unsubscribe from
    token = unsubscribe_token(SECRET, on.id, "reminders")
    assert (
        reminder_mail["List-Unsubscribe"]
        == f"<https://keeptime.example/v1/unsubscribe/{on.id}/reminders/{token}>"
    )
    assert reminder_mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert next(row.reason for row in await log_rows(sessions)) == "preference: reminders"


async def test_preferences_through_the_api_and_the_one_click_unsubscribe(api: Client) -> None:
    auth, customer_id = await tenant(api)
    url = f"/v1/customers/{customer_id}"
    shown = await (await api.get(url, headers=auth)).json()
    assert shown["preferences"] == {"reminders": True, "review_requests": True, "announcements": True}
    changed = await api.patch(url, json={"preferences": {"announcements": False}}, headers=auth)
    assert (await changed.json())["preferences"]["announcements"] is False
    merged = await api.patch(url, json={"preferences": {"review_requests": False}}, headers=auth)
    assert (await merged.json())["preferences"] == {
        "reminders": True,
        "review_requests": False,
        "announcements": False,
    }  # a merge: announcements stayed off
    bad = await api.patch(url, json={"preferences": {"transactional": False}}, headers=auth)
    assert bad.status == 422

    link = await _link(api, customer_id)
    assert (await (await api.get(link)).json())["subscribed"] is True  # a GET changes nothing
    for _ in range(2):  # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click; a repeat is the same
        clicked = await api.post(link, data="List-Unsubscribe=One-Click", headers=_form())
        assert clicked.status == 200 and (await clicked.json())["subscribed"] is False
    assert (await (await api.get(url, headers=auth)).json())["preferences"]["reminders"] is False
    forged = link.rsplit("/", 1)[0] + "/" + "0" * 40
    assert (await api.post(forged, data="List-Unsubscribe=One-Click", headers=_form())).status == 403
    assert (await api.post(link.replace("/reminders/", "/transactional/"), headers=_form())).status == 404


def _form() -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded"}


async def _link(api: Client, customer_id: int) -> str:
    assert api.app is not None
    token = unsubscribe_token(api.app[SETTINGS].webhook_secret.get_secret_value(), customer_id, "reminders")
    return f"/v1/unsubscribe/{customer_id}/reminders/{token}"


async def test_an_appointment_whose_customer_turned_reminders_off_gets_every_other_message(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    """On the real workflow (v2 time-skipping): the preference is read when each message is due, so turning
    reminders off while the appointment sleeps takes effect; the timeline says why."""
    async with running_worker(skipping_env.client, sessions, provider_settings):
        with skipping_env.with_time_skipping_disabled():
            _, customer, appointment, handle = await booked(sessions, skipping_env.client)
        await until_next(handle, "reminder")
        async with sessions() as session:
            await set_preference(session, customer.id, "reminders", False)
        await skipping_env.fast_forward(handle, timedelta(days=3))
        await finished(handle)
    log = await log_of(sessions, appointment.id)
    assert ("appointment.booked", "sent", None) in log and ("appointment.no_show", "sent", None) in log
    reminders = [row for row in log if row[0].startswith("appointment.reminder")]
    assert reminders and all(row[1:] == ("skipped", "preference: reminders") for row in reminders)
