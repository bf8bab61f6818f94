"""Staff notifications beyond the app: the outbox the ``staff-notices`` job relays.

Producers only insert ``in_app_notifications`` rows, in their own transaction (``db.staff.tell`` and the
SQL safety nets in ``db.batch_statements``), so a notification exists exactly when its cause committed.
Each run of the job then, in order:

1. **decides** the rows not decided yet (``delivery IS NULL``) by their user's preferences at that moment:
   ``immediate``, ``digest`` (with the digest instant it goes into), ``in_app`` or ``muted`` (the last two
   have nothing left to do);
2. **settles** decided rows whose message (or digest) is in ``notification_log``: sent, skipped or failed,
   it is recorded there with its reason, and the row leaves the job's index (``relayed_at``);
3. asks for the messages still to go: one ``staff.notification`` per immediate row, one ``staff.digest``
   per (user, digest instant) that has come.

The sends go through the same claimed delivery as every customer message (``NotificationActivities``), so
the key (row or user+instant, event, channel) makes each once however often the job runs or retries, and
the send re-reads the row and the user (archived, read in the app, preferences changed) before it goes.
A run that dies between deciding and sending loses nothing: the next run finds the rows undelivered.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Business, InAppNotification, NotificationLog, StaffUser
from domain.notification_types import NotificationRequest
from domain.staff_notify import DIGEST_EVENT, NOTICE_EVENT, StaffNotifyPrefs, digest_at_for
from domain.timekeeping import zone_or_none

NOTHING_TO_SEND = ("in_app", "muted")


def notice_request(row: InAppNotification) -> NotificationRequest:
    """One notification at once; its key names the row (one row: one user, one moment)."""
    return NotificationRequest(
        business_id=row.business_id,
        entity_type="staff_notification",
        entity_id=row.id,
        event=NOTICE_EVENT,
        scheduled_for=row.created_at,
    )


def digest_request(business_id: int, user_id: int, at: datetime) -> NotificationRequest:
    """A user's digest of the notifications decided into the digest at ``at``."""
    return NotificationRequest(
        business_id=business_id,
        entity_type="staff_user",
        entity_id=user_id,
        event=DIGEST_EVENT,
        scheduled_for=at,
    )


async def decide(session: AsyncSession, now: datetime, limit: int) -> int:
    """Decide up to ``limit`` undecided rows (locked, skipping rows another run holds). Returns how many.
    A company whose zone this machine does not know cannot place a digest: its digest rows go immediate."""
    rows = await session.execute(
        select(InAppNotification, StaffUser.notify, Business.time_zone)
        .join(StaffUser, StaffUser.id == InAppNotification.user_id)
        .join(Business, Business.id == InAppNotification.business_id)
        .where(InAppNotification.delivery.is_(None))
        .order_by(InAppNotification.id)
        .limit(limit)
        .with_for_update(of=InAppNotification, skip_locked=True)
    )
    decided = 0
    for row, notify, zone_name in rows.all():
        prefs = StaffNotifyPrefs.from_stored(notify)
        decision = prefs.decide(row.event)
        zone: ZoneInfo | None = zone_or_none(zone_name)
        if decision == "digest" and zone is None:
            decision = "immediate"
        row.delivery = decision
        if decision == "digest":
            assert zone is not None
            row.digest_at = digest_at_for(row.created_at, prefs, zone)
        if decision in NOTHING_TO_SEND:
            row.relayed_at = now
        decided += 1
    return decided


async def due(session: AsyncSession, now: datetime, limit: int) -> list[NotificationRequest]:
    """Settle what is logged, then the messages still to go (up to ``limit`` of each kind), oldest first."""
    rows = list(
        await session.scalars(
            select(InAppNotification)
            .where(InAppNotification.relayed_at.is_(None), InAppNotification.delivery == "immediate")
            .order_by(InAppNotification.id)
            .limit(limit)
        )
    )
    digests = (
        await session.execute(
            select(InAppNotification.business_id, InAppNotification.user_id, InAppNotification.digest_at)
            .where(
                InAppNotification.relayed_at.is_(None),
                InAppNotification.delivery == "digest",
                InAppNotification.digest_at <= now,
            )
            .group_by(InAppNotification.business_id, InAppNotification.user_id, InAppNotification.digest_at)
            .order_by(func.min(InAppNotification.id))
            .limit(limit)
        )
    ).all()
    notices = [(row.id, notice_request(row)) for row in rows]
    digest_requests = [
        ((user, at), digest_request(business, user, at)) for business, user, at in digests if at is not None
    ]
    logged = await _logged(session, [r for _, r in notices] + [r for _, r in digest_requests])
    done_rows = [row_id for row_id, request in notices if request.message_key() in logged]
    if done_rows:
        await session.execute(
            update(InAppNotification).where(InAppNotification.id.in_(done_rows)).values(relayed_at=now)
        )
    for (user_id, at), request in digest_requests:
        if request.message_key() in logged:
            await session.execute(
                update(InAppNotification)
                .where(
                    InAppNotification.user_id == user_id,
                    InAppNotification.delivery == "digest",
                    InAppNotification.digest_at == at,
                    InAppNotification.relayed_at.is_(None),
                )
                .values(relayed_at=now)
            )
    wanted = [r for _, r in notices] + [r for _, r in digest_requests]
    return [request for request in wanted if request.message_key() not in logged]


async def _logged(session: AsyncSession, requests: list[NotificationRequest]) -> set[str]:
    """The keys of these messages already in the log (in any state: their delivery has begun)."""
    if not requests:
        return set()
    keys = [request.message_key() for request in requests]
    return set(
        await session.scalars(
            select(NotificationLog.message_key).where(NotificationLog.message_key.in_(keys))
        )
    )


async def digest_rows(
    session: AsyncSession, user_id: int, at: datetime, listed: int
) -> tuple[list[InAppNotification], int]:
    """The unread, unarchived notifications decided into the user's digest at ``at`` (oldest first, at most
    ``listed``), and how many there are."""
    where = (
        InAppNotification.user_id == user_id,
        InAppNotification.delivery == "digest",
        InAppNotification.digest_at == at,
        InAppNotification.read_at.is_(None),
        InAppNotification.archived_at.is_(None),
    )
    rows = await session.scalars(
        select(InAppNotification).where(*where).order_by(InAppNotification.id).limit(listed)
    )
    count = await session.scalar(select(func.count()).where(*where))
    return list(rows), int(count or 0)


async def set_preferences(
    session: AsyncSession, business_id: int, user_id: int, prefs: StaffNotifyPrefs, phone: str | None
) -> StaffUser | None:
    """Store the user's preferences and phone (the same again changes nothing). Commits; None: no such
    user."""
    async with session.begin():
        user = await session.get(StaffUser, user_id, with_for_update=True)
        if user is None or user.business_id != business_id:
            return None
        user.notify = prefs.stored()
        user.phone = phone
    return user
