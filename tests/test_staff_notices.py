"""Staff notifications beyond the app (issue 32, defect 11): the preferences (pure), and the staff-notices
job on the v2 time-skipping server with the real activities, PostgreSQL, SMTP and Twilio peers: each user
hears once, on their channels, at once or in their digest or not at all; a second run sends nothing; a
notification read in the app before it goes, or a change of preferences, is recorded and not sent."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from db import staff, staff_notices
from db.engine import SessionFactory
from db.models import InAppNotification, NotificationLog
from domain.job_types import JobMetrics
from domain.staff_notify import StaffNoticesRunInput, StaffNotifyPrefs, digest_at_for
from domain.statuses import StaffRole
from domain.task_queues import MAINTENANCE
from keeptime.settings import Settings
from tests.factories import make_business
from tests.peers import ProviderPeer, SmtpPeer
from tests.support import running_worker
from tests.test_notification_delivery import parts
from workflows.jobs import StaffNoticesWorkflow

BERLIN = ZoneInfo("Europe/Berlin")


def test_preferences_decide_each_notification() -> None:
    default = StaffNotifyPrefs()
    assert (default.delivery, default.channels, default.digest_time) == ("immediate", ["email"], time(8, 0))
    muted = StaffNotifyPrefs(delivery="digest", muted=["inventory"])
    assert [muted.decide(e) for e in ("invoice.overdue_7d", "inventory.shortage")] == ["digest", "muted"]
    sms_first = StaffNotifyPrefs(channels=["sms", "email"])
    assert sms_first.channels_with({"email": "a@b.test", "sms": None}) == ["email"]  # no phone: e-mail
    assert StaffNotifyPrefs.from_stored({"delivery": "carrier pigeon"}) == default  # a bad row: the default
    with pytest.raises(ValueError):
        StaffNotifyPrefs(channels=["email", "email"])


def test_a_notification_goes_into_the_first_digest_after_it_across_dst() -> None:
    prefs = StaffNotifyPrefs(delivery="digest", digest_time=time(8, 0))
    # Berlin springs forward on Sunday 28 March 2027: 08:00 is 07:00 UTC before, 06:00 UTC after.
    saturday_evening = datetime(2027, 3, 27, 20, 0, tzinfo=UTC)
    assert digest_at_for(saturday_evening, prefs, BERLIN) == datetime(2027, 3, 28, 6, 0, tzinfo=UTC)
    on_the_dot = datetime(2027, 3, 26, 7, 0, tzinfo=UTC)  # Friday 08:00 CET: the next day's digest
    assert digest_at_for(on_the_dot, prefs, BERLIN) == datetime(2027, 3, 27, 7, 0, tzinfo=UTC)


async def _company(sessions: SessionFactory, tag: str) -> tuple[int, dict[str, int]]:
    business = await make_business(sessions, name=f"Builders {tag}", time_zone="Europe/Berlin")
    people: dict[str, tuple[list[str], StaffNotifyPrefs, str | None]] = {
        "ana": (["admin"], StaffNotifyPrefs(), None),  # the default: e-mail at once
        "carl": (["accounting"], StaffNotifyPrefs(channels=["sms", "email"]), "+4915100000001"),
        "dora": (["admin"], StaffNotifyPrefs(delivery="digest", digest_time=time(17, 30)), None),
        "eve": (["admin"], StaffNotifyPrefs(delivery="in_app"), None),
        "fred": (["admin"], StaffNotifyPrefs(muted=["invoice"]), None),
        "pia": (["pm"], StaffNotifyPrefs(), None),  # not told of invoices at all
    }
    users = {}
    for name, (roles, prefs, phone) in people.items():
        async with sessions() as session:
            added = await staff.add_user(
                session,
                business.id,
                {"name": name.title(), "email": f"{name}-{tag}@build.test", "roles": roles},
            )
        async with sessions() as session:
            await staff_notices.set_preferences(session, business.id, added.user.id, prefs, phone)
        users[name] = added.user.id
    return business.id, users


async def _tell(sessions: SessionFactory, business_id: int, what: str) -> None:
    async with sessions() as session, session.begin():
        await staff.tell(
            session,
            business_id,
            (StaffRole.ADMIN, StaffRole.ACCOUNTING),
            key=f"invoice:1:invoice.overdue:{what}",
            event="invoice.overdue",
            entity=("invoice", 1),
            title=f"Invoice {what} is overdue",
            link="/v1/invoices/1",
        )


async def _logged(sessions: SessionFactory, business_id: int, count: int) -> list[NotificationLog]:
    """The business's staff log rows once ``count`` of them have settled (the messages' own workflows run
    on after the job's run has ended)."""
    for _ in range(300):
        async with sessions() as session:
            rows = list(
                await session.scalars(
                    select(NotificationLog)
                    .where(NotificationLog.business_id == business_id, NotificationLog.event.like("staff.%"))
                    .order_by(NotificationLog.id)
                )
            )
        if len(rows) >= count and all(r.status.value != "queued" for r in rows):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} settled log rows, have {[(r.event, r.status) for r in rows]}")


def _to(smtp: SmtpPeer, address: str) -> list[Any]:
    return [m for m in smtp.messages if str(m["To"]) == address]


async def test_each_user_hears_once_on_their_channels_at_once_in_their_digest_or_not_at_all(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    smtp, sms = peers
    tag = uuid.uuid4().hex[:8]
    business_id, users = await _company(sessions, tag)
    await _tell(sessions, business_id, f"INV-{tag}")
    now = datetime.now(UTC)

    async def run(at: datetime) -> JobMetrics:
        return await skipping_env.client.execute_workflow(
            StaffNoticesWorkflow.run,
            StaffNoticesRunInput(at=at),
            id=f"test-staff-notices-{uuid.uuid4()}",
            task_queue=MAINTENANCE,
        )

    async with running_worker(skipping_env.client, sessions, provider_settings, end_workflows=False):
        first = await run(now)
        rows = await _logged(sessions, business_id, 2)
        second = await run(now + timedelta(minutes=1))  # settles what the first started; starts nothing
        async with sessions() as session:
            decided = {
                n.user_id: (n.delivery, n.digest_at, n.relayed_at is not None)
                for n in await session.scalars(
                    select(InAppNotification).where(InAppNotification.business_id == business_id)
                )
            }
        digest_at = decided[users["dora"]][1]
        assert digest_at is not None
        third = await run(digest_at + timedelta(seconds=30))  # dora's digest is due
        rows = await _logged(sessions, business_id, 3)
        fourth = await run(digest_at + timedelta(minutes=1))

    assert first.changed == 2 and second.changed == 0 and third.changed == 1 and fourth.changed == 0
    assert decided == {
        users["ana"]: ("immediate", None, True),
        users["carl"]: ("immediate", None, True),
        users["dora"]: ("digest", digest_at, False),  # waits for 17:30 Berlin
        users["eve"]: ("in_app", None, True),
        users["fred"]: ("muted", None, True),
    }
    assert digest_at.astimezone(BERLIN).time() == time(17, 30) and digest_at > now
    went = {"sent", "delivered"}  # the SMS peer's receipt may have come
    assert sorted((r.event, str(r.channel), r.status.value in went) for r in rows) == [
        ("staff.digest", "email", True),
        ("staff.notification", "email", True),
        ("staff.notification", "sms", True),
    ]
    ana = _to(smtp, f"ana-{tag}@build.test")
    assert len(ana) == 1 and str(ana[0]["Subject"]) == f"Builders {tag}: Invoice INV-{tag} is overdue"
    assert "/v1/invoices/1" in parts(ana[0])["text/plain"]
    carl = [e["form"] for e in sms.accepted["sms"] if e["form"].get("To") == "+4915100000001"]
    assert len(carl) == 1 and f"Invoice INV-{tag} is overdue" in carl[0]["Body"]
    assert _to(smtp, f"carl-{tag}@build.test") == []  # SMS first: the e-mail is only the fallback
    dora = _to(smtp, f"dora-{tag}@build.test")
    assert len(dora) == 1 and str(dora[0]["Subject"]) == f"Builders {tag}: your notifications (1)"
    assert f"Invoice INV-{tag} is overdue" in parts(dora[0])["text/plain"]
    for name in ("eve", "fred", "pia"):
        assert _to(smtp, f"{name}-{tag}@build.test") == []


async def test_read_in_the_app_first_or_preferences_changed_is_recorded_and_not_sent(
    skipping_env: WorkflowEnvironment,
    sessions: SessionFactory,
    provider_settings: Settings,
    peers: tuple[SmtpPeer, ProviderPeer],
) -> None:
    smtp, _ = peers
    tag = uuid.uuid4().hex[:8]
    business_id, users = await _company(sessions, tag)
    await _tell(sessions, business_id, f"INV-{tag}")
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        await staff_notices.decide(session, now, 100)  # decided immediate for ana and carl ...
    async with sessions() as session:
        await staff.mark_read(session, users["ana"], None, now)  # ... ana reads it in the app first
    async with sessions() as session:  # carl turns to the app only before it goes
        await staff_notices.set_preferences(
            session, business_id, users["carl"], StaffNotifyPrefs(delivery="in_app"), None
        )
    async with running_worker(skipping_env.client, sessions, provider_settings, end_workflows=False):
        await skipping_env.client.execute_workflow(
            StaffNoticesWorkflow.run,
            StaffNoticesRunInput(at=now),
            id=f"test-staff-notices-{uuid.uuid4()}",
            task_queue=MAINTENANCE,
        )
        rows = await _logged(sessions, business_id, 2)
    assert sorted((r.status.value, r.reason) for r in rows) == [
        ("skipped", "preference: in_app"),
        ("skipped", "read_in_app"),
    ]
    assert _to(smtp, f"ana-{tag}@build.test") == [] and _to(smtp, f"carl-{tag}@build.test") == []
