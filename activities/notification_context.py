"""Everything one message needs, read fresh from PostgreSQL while the entity row is share-locked.

The lock (``FOR SHARE``) is held until the provider call returns, so a cancel or reschedule commits either
before the check (and the message is skipped) or after the message went out: never a send after a cancel.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time
from sqlalchemy import JSON, Select, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from activities.translations import translations_for
from db import staff_notices
from db.admin_digest import DigestRows, DigestSection, digest_rows
from db.models import (
    Appointment,
    Broadcast,
    Business,
    Customer,
    InAppNotification,
    Pet,
    Policy,
    StaffUser,
    TemplateOverride,
    Vaccination,
)
from db.project_digest import project_lines
from domain.admin_digest import FINAL_DIGEST, window_start
from domain.automation import AutomationSettings
from domain.limits import usable_locale
from domain.locales import message_locale
from domain.notification_events import EventSpec
from domain.notification_types import NotificationRequest
from domain.preferences import Preferences
from domain.project_digest import digest_week
from domain.staff_notify import DIGEST_EVENT, StaffNotifyPrefs
from domain.unsubscribe import grant_for, link
from keeptime.settings import Settings

DIGEST_LISTED = 50  # notifications listed in a staff digest (its count is always complete)


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
class EntityContext:
    """What a message needs besides its entity, read in the entity's statement (``_with_context``)."""

    business: Business
    customer: Customer | None  # None: the request names none, or it is not there
    overrides: dict[str, dict[str, str]]  # channel -> part -> text
    staff_user: StaffUser | None = None  # the user a staff notification is for


@dataclass(frozen=True)
class LoadedEntity:
    """The message's entity as read (share-locked): its status and version decide whether the message is
    still wanted; ``at`` is the instant the message talks about; ``extra`` goes into the template."""

    row: object
    status: str
    version: int | None
    at: datetime | None
    extra: dict[str, Any]
    context: EntityContext  # read in the row's statement


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


def staff_contact(user: StaffUser, spec: EventSpec, business: Business) -> tuple[Contact, list[str]]:
    """A company user's addresses and the channels to try: the event's own (a digest is an e-mail), or the
    user's immediate channels in their order (domain.staff_notify), each only with an address."""
    addresses = {
        channel: address for channel, address in (("email", user.email), ("sms", user.phone)) if address
    }
    prefs = StaffNotifyPrefs.from_stored(user.notify)
    order = list(spec.channels) if spec.channels is not None else prefs.channels_with(dict(addresses))
    return Contact(name=user.name, locale=business.locale, addresses=addresses), [
        channel for channel in order if channel in addresses
    ]


def recipient_zone(customer: Customer | None, business: Business) -> ZoneInfo:
    return ZoneInfo(customer.time_zone if customer is not None and customer.time_zone else business.time_zone)


def local_time_text(instant: datetime, zone: ZoneInfo, locale: str, *, now: datetime) -> dict[str, str]:
    """The ``when`` variables: date and time in the recipient's zone, formatted and worded for the locale
    (CLDR patterns: ``Fri, Mar 14, 2031`` / ``2:00 PM`` in en, ``Fr., 14. März 2031`` / ``14:00`` in de)."""
    safe_locale = usable_locale(locale)  # a stored locale Babel does not know formats as English
    local = instant.astimezone(zone)
    # CLDR puts a narrow no-break space before "PM": a plain one keeps an English SMS in GSM-7 (160 chars).
    date_text = format_skeleton("yMMMEd", local, locale=safe_locale).replace("\u202f", " ")
    time_text = format_time(local, format="short", locale=safe_locale).replace("\u202f", " ")
    days = (local.date() - now.astimezone(zone).date()).days
    words = translations_for(safe_locale)
    if days == 0:
        relative = words.gettext("today at %(time)s") % {"time": time_text}
    elif days == 1:
        relative = words.gettext("tomorrow at %(time)s") % {"time": time_text}
    else:
        relative = words.gettext("on %(date)s at %(time)s") % {"date": date_text, "time": time_text}
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
    business, customer = loaded.context.business, loaded.context.customer
    zone = recipient_zone(customer, business)
    automation = AutomationSettings.from_stored(business.automation).settings
    now = datetime.now(UTC)
    staff_user = loaded.context.staff_user or (entity if isinstance(entity, StaffUser) else None)
    if spec.audience == "staff" and staff_user is not None:
        contact, channels = staff_contact(staff_user, spec, business)
        customer_name = staff_user.name
    elif spec.audience == "admin":
        contact = Contact(
            name=business.name, locale=business.locale, addresses={"email": business.admin_email or ""}
        )
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
    elif request.event == "appointment.admin_new_booking" and automation.admin_alerts == "daily_digest":
        stale = "in_daily_digest"  # the owner gets the day's bookings in one message instead
    elif customer is not None and not Preferences.from_stored(customer.preferences).allows(spec.category):
        stale = f"preference: {spec.category}"  # the customer turned this kind of message off
    base = settings.public_base_url.rstrip("/")
    ref = {"business": "businesses/me", "staff_user": "projects"}.get(
        request.entity_type, f"{request.entity_type}s/{request.entity_id}"
    )
    locale = message_locale(contact.locale if contact else None, business.locale)
    template = {
        "customer": {
            "name": customer_name,
            "first_name": customer_name.split()[0] if customer_name else "",
            "locale": locale,
        },
        "business": {"name": business.name, "time_zone": business.time_zone},
        "when": local_time_text(instant or now, zone, locale, now=now),
        "links": {
            "cancel": f"{base}/b/{business.id}/{ref}/cancel",
            "reschedule": f"{base}/b/{business.id}/{ref}/reschedule",
            "review": f"{base}/b/{business.id}/{ref}/review",
            "book": f"{base}/b/{business.id}/book",
            "admin": f"{base}/v1/{ref}",
            "base": base,
            "unsubscribe": _unsubscribe_link(settings, spec, business, customer, contact, now),
        },
        "variant": request.variant or "",
        **_localized(loaded.extra, locale, zone),
    }
    return MessageContext(
        business=business,
        automation=automation,
        zone=zone,
        contact=contact,
        channels=channels,
        stale_reason=stale,
        template=template,
        overrides=loaded.context.overrides,
    )


def _localized(extra: dict[str, Any], locale: str, zone: ZoneInfo) -> dict[str, Any]:
    """Entity values that are words or dates: in the message's language and the locale's date format."""
    words = translations_for(locale)
    if "digest" in extra:
        extra["digest"] = _digest_text(extra["digest"], usable_locale(locale), zone)
    if "notices" in extra:
        for item in extra["notices"]["items"]:
            item["at"] = _day_and_time(item["at"].astimezone(zone), usable_locale(locale))
    if "projects_digest" in extra:
        digest = extra["projects_digest"]
        for day in ("first_day", "last_day"):
            digest[day] = format_date(digest[day], format="medium", locale=usable_locale(locale))
    if "appointment" in extra and extra["appointment"]["service"] is None:
        extra["appointment"]["service"] = words.gettext("appointment")
    if "policy" in extra:
        policy = extra["policy"]
        policy["product"] = policy["product"] or words.gettext("insurance")
        policy["end_date"] = format_date(policy["end_date"], format="long", locale=usable_locale(locale))
    return extra


def _day_and_time(local: datetime, locale: str) -> str:
    day = format_skeleton("MMMEd", local, locale=locale)
    return f"{day}, {format_time(local, format='short', locale=locale)}".replace("\u202f", " ")


def _digest_text(digest: dict[str, Any], locale: str, zone: ZoneInfo) -> dict[str, Any]:
    rows: DigestRows = digest["rows"]

    def section(part: DigestSection) -> dict[str, Any]:
        return {
            "count": part.count,
            "more": part.count - len(part.items),
            "items": [
                {
                    "id": item.appointment_id,
                    "service": item.service or translations_for(locale).gettext("appointment"),
                    "customer": item.customer,
                    "when": _day_and_time(item.starts_at.astimezone(zone), locale),
                }
                for item in part.items
            ],
        }

    return {
        "date": format_skeleton("yMMMEd", digest["end"].astimezone(zone), locale=locale),
        "since": _day_and_time(digest["start"].astimezone(zone), locale),
        "bookings": section(rows.bookings),
        "cancellations": section(rows.cancellations),
        "no_shows": section(rows.no_shows),
    }


async def _load_entity(session: AsyncSession, request: NotificationRequest) -> LoadedEntity | None:
    if request.entity_type == "appointment":
        found = (await session.execute(_share_locked(Appointment, request))).first()
        if found is None:
            return None
        appointment: Appointment = found[0]
        extra = {
            "appointment": {
                "id": appointment.id,
                "service": appointment.service,  # None: "appointment" in the message's language
                "resource": appointment.resource or "",
                "status": appointment.status.value,
                "no_show_fee": "",
            }
        }
        status = "archived" if appointment.archived_at else appointment.status.value
        return LoadedEntity(
            appointment, status, appointment.version, appointment.starts_at, extra, _context_of(found)
        )
    if request.entity_type == "vaccination":
        return await _load_vaccination(session, request)
    if request.entity_type == "policy":
        return await _load_policy(session, request)
    if request.entity_type == "business":
        return await _load_digest(session, request)
    if request.entity_type == "staff_notification":
        return await _load_staff_notice(session, request)
    if request.entity_type == "staff_user":
        if request.event == DIGEST_EVENT:
            return await _load_staff_digest(session, request)
        return await _load_project_digest(session, request)
    if request.entity_type == "broadcast":
        found = (await session.execute(_share_locked(Broadcast, request))).first()
        if found is None:
            return None
        broadcast: Broadcast = found[0]
        extra = {"broadcast": {"subject": broadcast.subject, "body": broadcast.body}}
        return LoadedEntity(broadcast, broadcast.status, None, None, extra, _context_of(found))
    return None


AnySelect = Select[*tuple[Any, ...]]


def _share_locked(model: Any, request: NotificationRequest) -> AnySelect:
    """The request's entity of the business, share-locked (a cancel commits before the send or after it),
    with what the message needs besides it read in the same statement (``_with_context``)."""
    query = select(model).where(model.id == request.entity_id, model.business_id == request.business_id)
    return _with_context(query, model, request).with_for_update(read=True, of=model)


def _with_context(query: AnySelect, model: Any, request: NotificationRequest) -> AnySelect:
    """``query`` (its first column the entity ``model``) joined to the entity's business (unless the entity
    is the business) and the request's customer, and the event's template overrides as a last column
    (``_context_of`` reads them): one round trip instead of four on a busy worker's send path. No row when
    the business is gone (the message's context is None then); a customer that is not there is None."""
    if model is not Business:
        query = query.join(Business, Business.id == model.business_id).add_columns(Business)
    if request.customer_id is not None:
        query = query.outerjoin(Customer, Customer.id == request.customer_id).add_columns(Customer)
    return query.add_columns(_overrides_column(request.business_id, request.event))


def _overrides_column(business_id: int, event: str) -> Any:
    """The business's overrides for the event as one JSON array of ``[channel, part, body]``."""
    parts = func.json_build_array(TemplateOverride.channel, TemplateOverride.part, TemplateOverride.body)
    rows = (
        select(func.coalesce(func.json_agg(parts), func.json_build_array()))
        .where(TemplateOverride.business_id == business_id, TemplateOverride.event == event)
        .scalar_subquery()
    )
    return type_coerce(rows, JSON).label("overrides")


def _context_of(row: Any) -> EntityContext:
    """The business, customer and overrides of a row read with ``_with_context``."""
    overrides: dict[str, dict[str, str]] = {}
    for channel, part, body in row.overrides:
        overrides.setdefault(channel, {})[part] = body
    return EntityContext(business=row.Business, customer=getattr(row, "Customer", None), overrides=overrides)


async def _load_digest(session: AsyncSession, request: NotificationRequest) -> LoadedEntity | None:
    """The daily digest: the business's alert mode is its "status"; an empty day is not worth a message."""
    query = select(Business).where(Business.id == request.entity_id, Business.id == request.business_id)
    found = (
        await session.execute(_with_context(query, Business, request).with_for_update(read=True, of=Business))
    ).first()
    if found is None or request.scheduled_for is None:
        return None
    business: Business = found[0]
    context = _context_of(found)
    settings = AutomationSettings.from_stored(business.automation).settings
    final = request.variant == FINAL_DIGEST  # the alerts held until the switch back to per-booking ones
    if settings.admin_alerts != "daily_digest" and not final:
        return LoadedEntity(business, "not_in_digest_mode", None, request.scheduled_for, {}, context)
    zone = ZoneInfo(business.time_zone)
    at = request.scheduled_for
    start, end = window_start(business.digest_since, at, at.astimezone(zone).time(), zone), at
    rows = await digest_rows(session, business.id, start, end)
    status = "empty_digest" if rows.empty else "daily_digest"
    extra = {"digest": {"start": start, "end": end, "rows": rows}}
    return LoadedEntity(business, status, None, at, extra, context)


async def _load_project_digest(session: AsyncSession, request: NotificationRequest) -> LoadedEntity | None:
    """A staff user's weekly project digest: their active projects as they are when it goes out; a user
    without any (no longer a member, projects completed) is "no_projects" and gets nothing."""
    found = (await session.execute(_share_locked(StaffUser, request))).first()
    if found is None or request.scheduled_for is None:
        return None
    user: StaffUser = found[0]
    business: Business = found.Business
    zone = ZoneInfo(business.time_zone)
    week = digest_week(request.scheduled_for, zone)
    lines = await project_lines(session, user, week, datetime.now(UTC).astimezone(zone).date())
    status = "has_projects" if lines else "no_projects"
    start, end = week.last_week
    extra = {
        "projects_digest": {
            "first_day": start,
            "last_day": end - timedelta(days=1),
            "projects": [line.model_dump(mode="json") for line in lines],
        }
    }
    return LoadedEntity(user, status, None, request.scheduled_for, extra, _context_of(found))


async def _load_staff_notice(session: AsyncSession, request: NotificationRequest) -> LoadedEntity | None:
    """One staff notification going out at once: "live" unless it was read in the app or archived first,
    or the user's preferences no longer send it at once (``preference: digest``, ``preference: in_app``)."""
    query = (
        select(InAppNotification)
        .join(StaffUser, StaffUser.id == InAppNotification.user_id)
        .add_columns(StaffUser)
        .where(
            InAppNotification.id == request.entity_id, InAppNotification.business_id == request.business_id
        )
    )
    found = (
        await session.execute(
            _with_context(query, InAppNotification, request).with_for_update(read=True, of=InAppNotification)
        )
    ).first()
    if found is None:
        return None
    notice: InAppNotification = found[0]
    user: StaffUser = found.StaffUser
    decision = StaffNotifyPrefs.from_stored(user.notify).decide(notice.event)
    if notice.archived_at is not None:
        status = "archived"
    elif notice.read_at is not None:
        status = "read_in_app"
    else:
        status = "live" if decision == "immediate" else f"preference: {decision}"
    extra = {"notice": {"title": notice.title, "event": notice.event, "link": notice.link or ""}}
    context = dataclasses.replace(_context_of(found), staff_user=user)
    return LoadedEntity(notice, status, None, notice.created_at, extra, context)


async def _load_staff_digest(session: AsyncSession, request: NotificationRequest) -> LoadedEntity | None:
    """A user's digest: the notifications decided into it that are still unread as it goes out; none left
    (all read in the app, or archived) is "empty_digest" and sends nothing."""
    found = (await session.execute(_share_locked(StaffUser, request))).first()
    if found is None or request.scheduled_for is None:
        return None
    user: StaffUser = found[0]
    rows, count = await staff_notices.digest_rows(session, user.id, request.scheduled_for, DIGEST_LISTED)
    items = [{"title": row.title, "link": row.link or "", "at": row.created_at} for row in rows]
    extra = {"notices": {"count": count, "more": count - len(rows), "items": items}}
    status = "has_notices" if count else "empty_digest"
    return LoadedEntity(user, status, None, request.scheduled_for, extra, _context_of(found))


async def _load_vaccination(session: AsyncSession, request: NotificationRequest) -> LoadedEntity | None:
    query = (
        select(Vaccination, Pet)
        .join(Pet, Pet.id == Vaccination.pet_id)
        .where(Vaccination.id == request.entity_id, Vaccination.business_id == request.business_id)
    )
    row = (
        await session.execute(
            _with_context(query, Vaccination, request).with_for_update(read=True, of=Vaccination)
        )
    ).one_or_none()
    if row is None:
        return None
    record, pet = row[0], row[1]
    extra = {
        "vaccination": {"vaccine": record.vaccine},
        "pet": {"name": pet.name, "species": pet.species or ""},
    }
    return LoadedEntity(record, record.status.value, None, record.expires_at, extra, _context_of(row))


async def _load_policy(session: AsyncSession, request: NotificationRequest) -> LoadedEntity | None:
    found = (await session.execute(_share_locked(Policy, request))).first()
    if found is None:
        return None
    policy: Policy = found[0]
    extra = {
        "policy": {
            "number": policy.policy_number,
            "product": policy.product,  # None: a word in the message's language
            "end_date": policy.end_date,
        }
    }
    return LoadedEntity(policy, policy.status.value, policy.term, None, extra, _context_of(found))


async def _appointment_customer_name(session: AsyncSession, entity: object) -> str:
    if isinstance(entity, Appointment):
        customer = await session.get(Customer, entity.customer_id)
        return customer.name if customer else ""
    return ""


def _unsubscribe_link(
    settings: Settings,
    spec: EventSpec,
    business: Business,
    customer: Customer | None,
    contact: Contact | None,
    now: datetime,
) -> str:
    """The signed link that turns this message's category off ("": a transactional message, or not a
    customer's)."""
    if spec.category == "transactional" or customer is None or customer.business_id != business.id:
        return ""
    if spec.audience != "customer" or contact is None:
        return ""
    valid_for = timedelta(days=settings.unsubscribe_link_days)
    grant = grant_for(business.id, customer.id, spec.category, now, valid_for)
    return link(settings.public_base_url, settings.unsubscribe_secret.get_secret_value(), grant)
