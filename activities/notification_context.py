"""Everything one message needs, read fresh from PostgreSQL while the entity row is share-locked.

The lock (``FOR SHARE``) is held until the provider call returns, so a cancel or reschedule commits either
before the check (and the message is skipped) or after the message went out: never a send after a cancel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Appointment,
    Broadcast,
    Business,
    Customer,
    Pet,
    Policy,
    TemplateOverride,
    Vaccination,
)
from domain.automation import AutomationSettings
from domain.limits import usable_locale
from domain.notification_events import EventSpec
from domain.notification_types import NotificationRequest
from domain.preferences import Preferences
from keeptime.settings import Settings


@dataclass
class Contact:
    """Where to reach the recipient, per channel, in their preferred order (personal data: activity-only)."""

    name: str
    locale: str
    addresses: dict[str, str] = field(default_factory=dict)

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name


@dataclass(frozen=True)
class LoadedEntity:
    """The message's entity as read (share-locked): its status and version decide whether the message is
    still wanted; ``at`` is the instant the message talks about; ``extra`` goes into the template."""

    row: object
    status: str
    version: int | None
    at: datetime | None
    extra: dict[str, Any]


@dataclass
class MessageContext:
    business: Business
    automation: AutomationSettings
    zone: ZoneInfo
    contact: Contact | None
    channels: list[str]
    stale_reason: str | None
    template: dict[str, Any]
    overrides: dict[str, dict[str, str]]  # channel -> part -> text


def customer_contact(customer: Customer) -> tuple[Contact, list[str]]:
    """The customer's usable channels: in their order, opted in, with an address."""
    available = {
        "email": customer.email if customer.email_opted_in else None,
        "sms": customer.phone if customer.sms_opted_in else None,
        "push": customer.push_token if customer.push_opted_in else None,
    }
    addresses = {channel: address for channel, address in available.items() if address}
    order = [c for c in customer.channel_order if c in addresses]
    return Contact(name=customer.name, locale=customer.locale, addresses=addresses), order


def recipient_zone(customer: Customer | None, business: Business) -> ZoneInfo:
    return ZoneInfo(customer.time_zone if customer is not None and customer.time_zone else business.time_zone)


def local_time_text(instant: datetime, zone: ZoneInfo, locale: str, *, now: datetime) -> dict[str, str]:
    """The ``when`` variables: date and time in the recipient's zone, formatted for their locale."""
    safe_locale = usable_locale(locale)  # a stored locale Babel does not know formats as English
    date_text = format_datetime(instant, "EEE d MMM y", tzinfo=zone, locale=safe_locale)
    time_text = format_datetime(instant, "HH:mm", tzinfo=zone, locale=safe_locale)
    days = (instant.astimezone(zone).date() - now.astimezone(zone).date()).days
    relative = {0: f"today at {time_text}", 1: f"tomorrow at {time_text}"}.get(
        days, f"on {date_text} at {time_text}"
    )
    return {
        "datetime": f"{date_text}, {time_text}",
        "date": date_text,
        "time": time_text,
        "time_zone": str(zone.key),
        "relative": relative,
    }


async def load_message_context(
    session: AsyncSession, request: NotificationRequest, spec: EventSpec, settings: Settings
) -> MessageContext | None:
    """Lock the entity row and read the message's context; None when the entity or business is gone."""
    loaded = await _load_entity(session, request)
    if loaded is None:
        return None
    entity, status, version, instant = loaded.row, loaded.status, loaded.version, loaded.at
    business = await session.get(Business, request.business_id)
    if business is None:
        return None
    customer = await session.get(Customer, request.customer_id) if request.customer_id is not None else None
    zone = recipient_zone(customer, business)
    now = datetime.now(UTC)
    if spec.audience == "admin":
        contact = Contact(name=business.name, locale="en", addresses={"email": business.admin_email or ""})
        channels = ["email"] if business.admin_email else []
        customer_name = await _appointment_customer_name(session, entity)
    elif customer is None or customer.business_id != business.id:
        contact, channels, customer_name = None, [], ""
    else:
        contact, channels = customer_contact(customer)
        customer_name = customer.name
    if spec.channels is not None:
        channels = [c for c in channels if c in spec.channels]
    stale = None
    if status not in spec.live_statuses:
        stale = status
    elif request.entity_version is not None and version is not None and version != request.entity_version:
        stale = "rescheduled"
    elif customer is not None and not Preferences.from_stored(customer.preferences).allows(spec.category):
        stale = f"preference: {spec.category}"  # the customer turned this kind of message off
    base = settings.public_base_url.rstrip("/")
    ref = f"{request.entity_type}s/{request.entity_id}"
    template = {
        "customer": {
            "name": customer_name,
            "first_name": customer_name.split()[0] if customer_name else "",
            "locale": contact.locale if contact else "en",
        },
        "business": {"name": business.name, "time_zone": business.time_zone},
        "when": local_time_text(instant or now, zone, contact.locale if contact else "en", now=now),
        "links": {
            "cancel": f"{base}/b/{business.id}/{ref}/cancel",
            "reschedule": f"{base}/b/{business.id}/{ref}/reschedule",
            "review": f"{base}/b/{business.id}/{ref}/review",
            "book": f"{base}/b/{business.id}/book",
            "admin": f"{base}/v1/{ref}",
        },
        "variant": request.variant or "",
        **loaded.extra,
    }
    return MessageContext(
        business=business,
        automation=AutomationSettings.from_stored(business.automation).settings,
        zone=zone,
        contact=contact,
        channels=channels,
        stale_reason=stale,
        template=template,
        overrides=await _overrides(session, business.id, request.event),
    )


async def _load_entity(session: AsyncSession, request: NotificationRequest) -> LoadedEntity | None:
    if request.entity_type == "appointment":
        appointment: Appointment | None = await session.scalar(_share_locked(Appointment, request))
        if appointment is None:
            return None
        extra = {
            "appointment": {
                "id": appointment.id,
                "service": appointment.service or "appointment",
                "resource": appointment.resource or "",
                "status": appointment.status.value,
                "no_show_fee": "",
            }
        }
        status = "archived" if appointment.archived_at else appointment.status.value
        return LoadedEntity(appointment, status, appointment.version, appointment.starts_at, extra)
    if request.entity_type == "vaccination":
        return await _load_vaccination(session, request)
    if request.entity_type == "policy":
        return await _load_policy(session, request)
    if request.entity_type == "broadcast":
        broadcast: Broadcast | None = await session.scalar(_share_locked(Broadcast, request))
        if broadcast is None:
            return None
        extra = {"broadcast": {"subject": broadcast.subject, "body": broadcast.body}}
        return LoadedEntity(broadcast, broadcast.status, None, None, extra)
    return None


def _share_locked(model: Any, request: NotificationRequest) -> Select[Any]:
    """The request's entity of the business, share-locked: a cancel commits before the send or after it."""
    return (
        select(model)
        .where(model.id == request.entity_id, model.business_id == request.business_id)
        .with_for_update(read=True)
    )


async def _load_vaccination(session: AsyncSession, request: NotificationRequest) -> LoadedEntity | None:
    row = (
        await session.execute(
            select(Vaccination, Pet)
            .join(Pet, Pet.id == Vaccination.pet_id)
            .where(Vaccination.id == request.entity_id, Vaccination.business_id == request.business_id)
            .with_for_update(read=True, of=Vaccination)
        )
    ).one_or_none()
    if row is None:
        return None
    record, pet = row
    extra = {
        "vaccination": {"vaccine": record.vaccine},
        "pet": {"name": pet.name, "species": pet.species or ""},
    }
    return LoadedEntity(record, record.status.value, None, record.expires_at, extra)


async def _load_policy(session: AsyncSession, request: NotificationRequest) -> LoadedEntity | None:
    policy: Policy | None = await session.scalar(_share_locked(Policy, request))
    if policy is None:
        return None
    extra = {
        "policy": {
            "number": policy.policy_number,
            "product": policy.product or "policy",
            "end_date": policy.end_date.isoformat(),
        }
    }
    return LoadedEntity(policy, policy.status.value, policy.term, None, extra)


async def _appointment_customer_name(session: AsyncSession, entity: object) -> str:
    if isinstance(entity, Appointment):
        customer = await session.get(Customer, entity.customer_id)
        return customer.name if customer else ""
    return ""


async def _overrides(session: AsyncSession, business_id: int, event: str) -> dict[str, dict[str, str]]:
    rows = await session.execute(
        select(TemplateOverride).where(
            TemplateOverride.business_id == business_id, TemplateOverride.event == event
        )
    )
    found: dict[str, dict[str, str]] = {}
    for row in rows.scalars():
        found.setdefault(row.channel, {})[row.part] = row.body
    return found
