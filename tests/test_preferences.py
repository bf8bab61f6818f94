"""Customers choose what they receive (issue 12, part 3): categories, the one-click unsubscribe of RFC 8058,
and the delivery layer that honours both; transactional messages always go out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import Message

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from temporalio.testing import WorkflowEnvironment

from activities.notifications import NotificationActivities
from activities.templates import render_message, sample_context
from api.keys import SETTINGS
from db.engine import SessionFactory
from db.tenants import set_preference
from domain.notification_events import EVENTS
from domain.preferences import Preferences
from domain.unsubscribe import BadToken, ExpiredToken, UnsubscribeGrant, grant_for, link, sign, verify
from keeptime.settings import Settings
from tests.appointment_support import booked, log_of, until_next
from tests.factories import make_appointment, make_business, make_customer
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from tests.test_api_appointments import tenant
from tests.test_appointment_workflow import finished
from tests.test_notification_delivery import log_rows, reminder

Client = TestClient[web.Request, web.Application]
SECRET = "dev-unsubscribe-secret"  # what the test settings sign links with (the development default)
NOW = datetime(2031, 3, 14, 12, 0, tzinfo=UTC)


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


def test_stored_preferences_are_read_tolerantly() -> None:
    assert Preferences.from_stored({"reminders": False, "junk": 1, "announcements": "no"}) == Preferences(
        reminders=False
    )
    assert Preferences.from_stored(None) == Preferences() == Preferences.from_stored([1])


def test_a_link_carries_its_business_customer_category_and_expiry_and_nothing_else_passes() -> None:
    grant = grant_for(3, 7, "reminders", NOW, timedelta(days=60))
    token = sign(SECRET, grant)
    assert (
        verify(SECRET, token, NOW) == grant == UnsubscribeGrant(3, 7, "reminders", NOW + timedelta(days=60))
    )
    payload, mac = token.split(".")
    for forged in (
        sign("another-deployments-secret", grant),
        sign(SECRET, UnsubscribeGrant(3, 8, "reminders", grant.expires_at)).split(".")[0] + "." + mac,
        sign(SECRET, UnsubscribeGrant(4, 7, "reminders", grant.expires_at)).split(".")[0] + "." + mac,
        payload + "." + mac[:-2],
        payload,
        "",
        "é." + mac,
        "!!!." + mac,
    ):
        with pytest.raises(BadToken):
            verify(SECRET, forged, NOW)
    with pytest.raises(ExpiredToken):
        verify(SECRET, token, grant.expires_at)
    with pytest.raises(BadToken):  # a transactional message has no link: signed or not, it never passes
        verify(SECRET, sign(SECRET, UnsubscribeGrant(3, 7, "transactional", grant.expires_at)), NOW)
    assert link("https://k.example/", SECRET, grant) == f"https://k.example/v1/unsubscribe/{token}"


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
    assert "unsubscribe" not in str(booked_mail).lower()
    url = str(reminder_mail["List-Unsubscribe"]).strip("<>")
    prefix = "https://keeptime.example/v1/unsubscribe/"
    assert url.startswith(prefix)
    grant = verify(SECRET, url.removeprefix(prefix), datetime.now(UTC))
    assert (grant.business_id, grant.customer_id, grant.category) == (business.id, on.id, "reminders")
    assert reminder_mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = (_decoded(part) for part in reminder_mail.walk() if not part.is_multipart())
    assert text.rstrip().endswith(f"Unsubscribe: {url}")  # visible to a person, not only to the client
    assert f'<a href="{url}">Unsubscribe</a>' in html
    assert next(row.reason for row in await log_rows(sessions)) == "preference: reminders"


async def test_preferences_through_the_api(api: Client) -> None:
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


async def test_the_unsubscribe_page_a_person_uses_and_the_one_click_post_of_a_mail_client(
    api: Client,
) -> None:
    auth, customer_id = await tenant(api)
    business_id = (await (await api.get("/v1/businesses/me", headers=auth)).json())["id"]
    url = f"/v1/customers/{customer_id}"
    link = _link(api, business_id, customer_id)
    page = await api.get(link)  # a person opens the link (or a scanner fetches it): nothing changes
    assert page.status == 200 and page.content_type == "text/html"
    text = await page.text()
    assert "Stop reminders from Salon Lumen?" in text and f'<form method="post" action="{link}">' in text
    assert (await (await api.get(url, headers=auth)).json())["preferences"]["reminders"] is True
    for _ in range(2):  # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click; a repeat is the same
        clicked = await api.post(link, data="List-Unsubscribe=One-Click", headers=_form())
        assert clicked.status == 200 and "You are unsubscribed" in await clicked.text()
    assert (await (await api.get(url, headers=auth)).json())["preferences"]["reminders"] is False
    as_json = await (await api.get(link, headers={"Accept": "application/json"})).json()
    assert as_json == {
        "business": "Salon Lumen",
        "customer_id": customer_id,
        "category": "reminders",
        "subscribed": False,
    }


async def test_a_forged_expired_or_other_business_link_changes_nothing(api: Client) -> None:
    """Customer ids are sequential: only the signature, the business binding and the expiry stand between a
    stranger and every customer's reminders."""
    auth, customer_id = await tenant(api)
    business_id = (await (await api.get("/v1/businesses/me", headers=auth)).json())["id"]
    other_auth, other_customer = await tenant(api)
    assert api.app is not None
    secret = api.app[SETTINGS].unsubscribe_secret.get_secret_value()
    later = datetime.now(UTC) + timedelta(days=1)
    refused = {
        "forged": (sign("not-our-secret", grant_for(business_id, customer_id, "reminders", later, DAY)), 403),
        "expired": (sign(secret, grant_for(business_id, customer_id, "reminders", later, -2 * DAY)), 410),
        "other business": (
            sign(secret, grant_for(business_id, other_customer, "reminders", later, DAY)),
            404,
        ),
        "old format": (f"{customer_id}/reminders/{'0' * 40}", 404),
    }
    for case, (token, status) in refused.items():
        for method in ("GET", "POST"):
            answer = await api.request(method, f"/v1/unsubscribe/{token}", headers=_form())
            assert answer.status == status, case
        as_json = await api.post(f"/v1/unsubscribe/{token}", headers={"Accept": "application/json"})
        assert as_json.status == status and "error" in await as_json.json(), case
    for who, customer in ((auth, customer_id), (other_auth, other_customer)):
        shown = await (await api.get(f"/v1/customers/{customer}", headers=who)).json()
        assert shown["preferences"]["reminders"] is True


DAY = timedelta(days=1)


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def _form() -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded"}


def _link(api: Client, business_id: int, customer_id: int) -> str:
    assert api.app is not None
    secret = api.app[SETTINGS].unsubscribe_secret.get_secret_value()
    grant = grant_for(business_id, customer_id, "reminders", datetime.now(UTC), timedelta(days=60))
    return link("", secret, grant)


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


def test_no_template_or_override_can_leave_the_visible_link_out() -> None:
    context = sample_context("appointment.reminder")
    url = context["links"]["unsubscribe"]
    bare = render_message(
        "appointment.reminder", "email", context, {"text": "Hi", "html": "<p>Hi</p>"}, locale="de"
    )
    assert (
        bare.text
        == f"Hi\n\nSie möchten diese E-Mails von Example Studio nicht mehr erhalten? Abmelden: {url}"
    )
    assert bare.html is not None and bare.html.endswith(f'<a href="{url}">Abmelden</a></p>')
    assert bare.unsubscribe_url == url
    transactional = render_message(
        "appointment.booked", "email", {**context, "links": {**context["links"], "unsubscribe": ""}}
    )
    assert transactional.unsubscribe_url is None and "nsubscribe" not in transactional.text
