"""The delivery activity against real PostgreSQL and real SMTP/HTTP peers on 127.0.0.1."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import Message
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from sqlalchemy import select

from activities.notifications import NotificationActivities, TransientDeliveryError
from activities.providers import build_providers, email_message_id, telnyx_key
from db.engine import SessionFactory
from db.models import Appointment, NotificationLog
from domain.notification_types import NotificationRequest
from domain.statuses import AppointmentStatus, NotificationStatus
from keeptime.settings import Settings
from tests.factories import make_appointment, make_business, make_customer, set_appointment
from tests.peers import INVALID_NUMBER, ProviderPeer, SmtpPeer


def reminder(appointment: Appointment, *, channel_hint: str = "", **values: object) -> NotificationRequest:
    fields: dict[str, object] = {
        "business_id": appointment.business_id,
        "entity_type": "appointment",
        "entity_id": appointment.id,
        "event": "appointment.reminder",
        "variant": "24h",
        "customer_id": appointment.customer_id,
        "scheduled_for": appointment.starts_at - timedelta(hours=24),
        "entity_version": appointment.version,
    }
    return NotificationRequest.model_validate({**fields, **values})


async def log_rows(sessions: SessionFactory) -> list[NotificationLog]:
    async with sessions() as session:
        return list((await session.execute(select(NotificationLog).order_by(NotificationLog.id))).scalars())


def parts(message: Message) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            found[part.get_content_type()] = payload.decode()
    return found


async def test_email_goes_out_as_multipart_with_a_stable_message_id(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, _ = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, name="Ada <b>Lovelace</b>", channel_order=["email"])
    appointment = await make_appointment(
        sessions, business, customer, starts_at=datetime(2031, 3, 14, 13, 0, tzinfo=UTC)
    )
    request = reminder(appointment)

    result = await notifier.deliver(request, final_attempt=False)

    assert result.status == "sent" and result.channel == "email" and result.provider == "smtp"
    [message] = smtp.messages
    assert message["To"] == "ada@example.test"
    assert (
        message["Subject"] == "Reminder: Haircut on Fri, Mar 14, 2031 at 2:00 PM"
    )  # 13:00 UTC is 14:00 in Berlin, in the CLDR format of the customer's locale (en)
    assert (
        message["Message-ID"]
        == email_message_id(request.idempotency_key("email"))
        == result.provider_message_id
    )
    body = parts(message)
    assert "Hello Ada," in body["text/plain"]
    assert "2:00 PM" in body["text/plain"] and "Europe/Berlin" in body["text/plain"]
    assert "https://keeptime.example/b/" in body["text/plain"]
    assert "<strong>Haircut</strong>" in body["text/html"]
    assert "Ada &lt;b&gt;Lovelace" not in body["text/html"]  # first name only, and escaped if it had markup
    [row] = await log_rows(sessions)
    assert (row.status, row.attempts, row.event) == (NotificationStatus.SENT, 1, "appointment.reminder_24h")


async def test_html_is_autoescaped_but_text_is_not(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, _ = peers
    business = await make_business(sessions, name="Tom & Jerry's <Salon>")
    customer = await make_customer(sessions, business, channel_order=["email"])
    appointment = await make_appointment(sessions, business, customer, service="Cut & <i>Dry</i>")
    await notifier.deliver(reminder(appointment), final_attempt=False)
    body = parts(smtp.messages[0])
    assert "Cut &amp; &lt;i&gt;Dry&lt;/i&gt;" in body["text/html"]
    assert "Cut & <i>Dry</i>" in body["text/plain"]


async def test_sms_is_a_twilio_form_post_whose_status_callback_carries_our_key(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    _, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["sms", "email"])
    appointment = await make_appointment(sessions, business, customer)
    request = reminder(appointment)

    result = await notifier.deliver(request, final_attempt=False)

    [sent] = http.accepted["sms"]
    assert sent["form"]["To"] == "+4915112345678" and sent["form"]["From"] == "+15005550006"
    assert sent["form"]["Body"].startswith("Reminder from Studio Nord: Haircut")
    callback = urlsplit(sent["form"]["StatusCallback"])
    assert callback.netloc == "keeptime.example" and callback.path == "/v1/webhooks/sms/status"
    [row] = [r for r in await log_rows(sessions) if r.channel and r.channel.value == "sms"]
    assert parse_qs(callback.query) == {"log": [str(row.id)]}  # a receipt names our message
    assert result.provider_message_id == sent["sid"] and result.channel == "sms"


async def test_sms_through_telnyx_is_a_json_post_with_its_idempotency_key(
    sessions: SessionFactory, provider_settings: Settings, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    _, http = peers
    settings = provider_settings.model_copy(update={"sms_provider": "telnyx"})
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["sms"])
    request = reminder(await make_appointment(sessions, business, customer))
    async with aiohttp.ClientSession() as client:
        notifier = NotificationActivities(sessions, settings, build_providers(settings, client))
        result = await notifier.deliver(request, final_attempt=False)
        [sent] = http.accepted["sms"]
        assert sent["provider"] == "telnyx" and sent["json"]["to"] == "+4915112345678"
        assert sent["json"]["from"] == "+15005550007" and sent["json"]["text"].startswith("Reminder from")
        assert sent["key"] == telnyx_key(request.idempotency_key("sms"))
        assert re.fullmatch(r"[A-Za-z0-9_:-]{1,255}", sent["key"])  # Telnyx's documented key pattern
        assert (result.provider, result.provider_message_id) == ("telnyx", sent["id"])


async def test_push_is_an_fcm_v1_message(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    _, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["push"])
    appointment = await make_appointment(sessions, business, customer)

    result = await notifier.deliver(reminder(appointment), final_attempt=False)

    [sent] = http.accepted["push"]
    message = sent["json"]["message"]
    assert message["token"] == "device-token-1"
    assert message["notification"]["title"] == "Reminder: Haircut"
    assert message["data"]["idempotency_key"] == reminder(appointment).idempotency_key("push")
    assert result.provider_message_id == sent["name"]


async def test_a_second_delivery_of_the_same_message_sends_nothing(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    _, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["sms"])
    appointment = await make_appointment(sessions, business, customer)

    first = await notifier.deliver(reminder(appointment), final_attempt=False)
    second = await notifier.deliver(reminder(appointment), final_attempt=False)

    assert first == second
    assert http.requests["sms"] == 1 and len(await log_rows(sessions)) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": AppointmentStatus.CANCELLED}, "cancelled"),
        ({"status": AppointmentStatus.COMPLETED}, "completed"),
        ({"version": 2}, "rescheduled"),
    ],
)
async def test_a_stale_message_is_skipped_and_never_sent(
    notifier: NotificationActivities,
    sessions: SessionFactory,
    peers: tuple[SmtpPeer, ProviderPeer],
    change: dict[str, object],
    reason: str,
) -> None:
    smtp, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business)
    appointment = await make_appointment(sessions, business, customer)
    request = reminder(appointment)
    await set_appointment(sessions, appointment.id, **change)

    result = await notifier.deliver(request, final_attempt=False)

    assert (result.status, result.reason) == ("skipped", reason)
    assert smtp.messages == [] and http.requests == {"sms": 0, "push": 0}
    [row] = await log_rows(sessions)
    assert (row.status, row.reason, row.channel) == (NotificationStatus.SKIPPED, reason, None)


async def test_opted_out_channels_are_passed_over_and_no_channel_is_recorded(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, http = peers
    business = await make_business(sessions)
    sms_out = await make_customer(sessions, business, channel_order=["sms", "email"], sms_opted_in=False)
    nobody = await make_customer(
        sessions,
        business,
        channel_order=["sms", "email", "push"],
        sms_opted_in=False,
        email=None,
        push_token=None,
    )
    first = await notifier.deliver(
        reminder(await make_appointment(sessions, business, sms_out)), final_attempt=False
    )
    second = await notifier.deliver(
        reminder(await make_appointment(sessions, business, nobody)), final_attempt=False
    )

    assert first.channel == "email" and http.requests["sms"] == 0 and len(smtp.messages) == 1
    assert (second.status, second.reason) == ("skipped", "no_channel")


async def test_an_invalid_number_is_not_retried_and_falls_back_to_the_next_channel(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, phone=INVALID_NUMBER, channel_order=["sms", "email"])
    appointment = await make_appointment(sessions, business, customer)

    result = await notifier.deliver(reminder(appointment), final_attempt=False)

    assert result.status == "sent" and result.channel == "email"
    sms_row, email_row = await log_rows(sessions)
    assert (sms_row.status, sms_row.reason) == (NotificationStatus.FAILED, "provider_rejected")
    assert "Invalid 'To' Phone Number" in (sms_row.error or "")
    assert email_row.status == NotificationStatus.SENT
    # a retry of the whole activity does not try the failed channel again
    assert (await notifier.deliver(reminder(appointment), final_attempt=False)).channel == "email"
    assert http.requests["sms"] == 1 and len(smtp.messages) == 1


async def test_a_5xx_is_transient_then_the_retry_sends_once(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    _, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["sms", "email"])
    appointment = await make_appointment(sessions, business, customer)
    http.fail_next("sms", 503)

    with pytest.raises(TransientDeliveryError):
        await notifier.deliver(reminder(appointment), final_attempt=False)
    [row] = await log_rows(sessions)
    assert (row.status, row.attempts) == (NotificationStatus.QUEUED, 1) and "HTTP 503" in (row.error or "")

    result = await notifier.deliver(reminder(appointment), final_attempt=False)
    assert result.status == "sent" and result.channel == "sms"
    [row] = await log_rows(sessions)
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)
    assert len(http.accepted["sms"]) == 1


async def test_429_carries_retry_after(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    _, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["push"])
    appointment = await make_appointment(sessions, business, customer)
    http.fail_next("push", 429, retry_after="7")

    with pytest.raises(TransientDeliveryError) as raised:
        await notifier.deliver(reminder(appointment), final_attempt=False)
    assert raised.value.retry_after_s == 7.0


async def test_on_the_last_attempt_a_transient_error_fails_the_channel_and_falls_back(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, http = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["sms", "email"])
    appointment = await make_appointment(sessions, business, customer)
    http.fail_next("sms", 503)

    result = await notifier.deliver(reminder(appointment), final_attempt=True)

    assert result.channel == "email" and len(smtp.messages) == 1
    sms_row, _ = await log_rows(sessions)
    assert (sms_row.status, sms_row.reason) == (NotificationStatus.FAILED, "provider_unavailable")


async def test_a_refused_mailbox_is_permanent(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, email="gone@invalid.test", channel_order=["email"])
    result = await notifier.deliver(
        reminder(await make_appointment(sessions, business, customer)), final_attempt=False
    )
    assert (result.status, result.reason) == ("failed", "all_channels_failed: email: provider_rejected")


async def test_an_smtp_4xx_is_transient(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, _ = peers
    business = await make_business(sessions)
    customer = await make_customer(sessions, business, channel_order=["email"])
    smtp.fail_codes.append("451 4.3.0 try again later")
    with pytest.raises(TransientDeliveryError):
        await notifier.deliver(
            reminder(await make_appointment(sessions, business, customer)), final_attempt=False
        )


async def test_admin_alerts_go_to_the_business_admin_address(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    smtp, _ = peers
    business = await make_business(sessions, admin_email="frontdesk@studio.test")
    customer = await make_customer(sessions, business, name="Grace Hopper")
    appointment = await make_appointment(sessions, business, customer)
    request = reminder(appointment, event="appointment.admin_new_booking", variant=None, customer_id=None)

    result = await notifier.deliver(request, final_attempt=False)

    assert result.status == "sent" and request.recipient == "admin"
    [message] = smtp.messages
    assert message["To"] == "frontdesk@studio.test"
    assert "Customer: Grace Hopper" in parts(message)["text/plain"]


async def test_a_message_past_its_deadline_is_skipped(
    notifier: NotificationActivities, sessions: SessionFactory, peers: tuple[SmtpPeer, ProviderPeer]
) -> None:
    business = await make_business(sessions)
    customer = await make_customer(sessions, business)
    appointment = await make_appointment(sessions, business, customer)
    request = reminder(appointment, deadline=datetime.now(UTC) - timedelta(seconds=1))
    assert (await notifier.deliver(request, final_attempt=False)).reason == "too_late"
