"""``python -m starter db:seed``: a realistic demo data set, started through the same services as the API.

Five businesses (a German-speaking salon in Berlin, a vet clinic in London whose owner gets a daily digest,
an insurer in Kolkata, a restaurant in Rome whose reservations the host confirms and which complete
themselves 35 minutes after they start) with customers in six locales (de, en, es, de_AT, en_GB, and pt_BR,
which reads its business's language) and different preferences, appointments across the next five days,
pets with vaccinations expiring over the next months, policies ending over the next three months, and a few
chat rooms, and a construction company in Chicago (an admin, an accountant and a PM; invoices, some
falling due this week, one already overdue, one a draft; a located project with its PM, daily plans in
draft for today and the next two days, inventory with one item short, four touch-ups of which three are
serious, and two employees with last week's time entries). Every appointment, invoice, daily plan,
vaccination and policy gets its workflow, so the Web UI (http://localhost:8233) fills with sleeping
workflows at once.
Run it with the stack up.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from temporalio.client import Client
from tqdm import tqdm

from db import daily_plans, inventory, payroll, pets, staff, tenants, touch_ups
from db.engine import SessionFactory, create_engine, create_session_factory
from db.models import ChatRoom
from domain.automation import AutomationSettings
from domain.locales import catalog_locale
from domain.statuses import InvoiceStatus, TouchUpPriority
from keeptime.settings import get_settings
from keeptime.temporal_client import connect_temporal
from services.appointments import book_appointment
from services.daily_plans import create_daily_plan
from services.invoices import create_invoice
from services.policies import register_policy
from services.settings import business_created
from services.vaccinations import register_vaccination

FIRST = ["Ada", "Ravi", "Lena", "Tom", "Mia", "Omar", "Sofia", "Jonas", "Priya", "Noah", "Emma", "Kenji"]
LAST = ["Lovelace", "Kumar", "Weber", "Brown", "Rossi", "Haddad", "Silva", "Berg", "Nair", "Klein"]
SERVICES = ["Haircut", "Colour", "Beard trim", "Blow-dry", "Manicure"]
VACCINES = ["Rabies", "Distemper", "Parvovirus", "Leptospirosis"]
CUSTOMER_LOCALES = ["de", "en", "es", "de_AT", "pt_BR", "en_GB"]


async def seed_demo(args: argparse.Namespace) -> int:
    settings = get_settings()
    engine = create_engine(settings.require_database_url(), pool_size=4)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            existing = await tenants.business_named_like(session, "Demo %")
        if existing is not None and not args.force:
            print("demo data exists already (businesses named 'Demo ...'); use --force to add another set")
            return 0
        client = await connect_temporal(settings)
        rng = random.Random(2026)
        keys = {
            "salon": await _salon(sessions, client, rng),
            "vet": await _vet(sessions, client, rng),
            "insurer": await _insurer(sessions, client, rng),
            "restaurant": await _restaurant(sessions, client, rng),
            "builder": await _builder(sessions, client, rng),
        }
    finally:
        await engine.dispose()
    print("demo data created; API keys (shown once):")
    for name, key in keys.items():
        print(f"  {name:10} {key}")
    print('open http://localhost:8233 to see the workflows; e.g. KeeptimeEntity="appointment"')
    return 0


async def _business(
    sessions: SessionFactory,
    name: str,
    zone: str,
    customers: int,
    rng: random.Random,
    automation: dict[str, object] | None = None,
    locale: str = "en",
    client: Client | None = None,
) -> tuple[int, str, list[int]]:
    async with sessions() as session:
        business, key = await tenants.create_business(
            session,
            {
                "name": name,
                "time_zone": zone,
                # example.com (RFC 2606): .test is refused by the API's e-mail check, so a business seeded
                # with it could never be changed through PATCH /v1/businesses/me.
                "admin_email": "owner@example.com",
                "locale": catalog_locale(locale),
                "automation": AutomationSettings.model_validate(automation or {}).model_dump(mode="json"),
            },
        )
    if client is not None:
        await business_created(client, business)  # e.g. its daily digest workflow
    ids = []
    for n in range(customers):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        async with sessions() as session:
            customer = await tenants.create_customer(
                session,
                business.id,
                {
                    "name": f"{first} {last}",
                    "email": f"{first.lower()}.{last.lower()}{n}@example.com",
                    "phone": f"+4915{rng.randrange(10**8, 10**9)}",
                    "sms_opted_in": rng.random() < 0.7,
                    # mixed languages: pt_BR has no catalog and reads the business's language
                    "locale": CUSTOMER_LOCALES[n % len(CUSTOMER_LOCALES)],
                    # some customers want no announcements (broadcasts), one in five no review requests
                    "preferences": {"announcements": n % 3 != 0, "review_requests": n % 5 != 0},
                },
            )
        ids.append(customer.id)
    return business.id, key, ids


async def _salon(sessions: SessionFactory, client: Client, rng: random.Random) -> str:
    business_id, key, customers = await _business(
        sessions, "Demo Salon Nord", "Europe/Berlin", 12, rng, locale="de"
    )
    zone = ZoneInfo("Europe/Berlin")
    today = datetime.now(zone).date()
    with tqdm(total=24, desc="appointments", file=sys.stderr) as bar:
        for n in range(24):
            day = today + timedelta(days=1 + n % 5)
            starts = datetime.combine(day, time(9 + (n // 5) % 8, 30 * (n % 2)), tzinfo=zone).astimezone(UTC)
            values = {
                "customer_id": rng.choice(customers),
                "service": rng.choice(SERVICES),
                "resource": f"chair-{n % 3 + 1}",
                "starts_at": starts,
                "ends_at": starts + timedelta(minutes=45),
            }
            await book_appointment(
                sessions, client, business_id, values, idempotency_key=f"demo-seed-{business_id}-{n}"
            )
            bar.update()
    async with sessions() as session:
        now = datetime.now(UTC)
        for n in range(5):  # two active, three stale (archived by the monthly job)
            idle = timedelta(days=2 if n < 2 else 200 + n)
            session.add(
                ChatRoom(
                    business_id=business_id,
                    customer_id=customers[n],
                    subject="Booking question",
                    last_activity_at=now - idle,
                )
            )
        await session.commit()
    return key


async def _restaurant(sessions: SessionFactory, client: Client, rng: random.Random) -> str:
    """The restaurant predecessor: the host confirms reservations, guests are assumed to come (no check-in),
    a confirmed reservation completes 35 minutes after it starts."""
    automation = {
        "booking_mode": "require_confirmation",
        "attendance": "assume_attended",
        "auto_complete_delay_s": 35 * 60,
        "reminder_offsets_s": [3 * 3600],
        "reminder_cutoff_s": 15 * 60,
    }
    business_id, key, guests = await _business(
        sessions, "Demo Trattoria", "Europe/Rome", 8, rng, automation=automation
    )
    zone = ZoneInfo("Europe/Rome")
    today = datetime.now(zone).date()
    for n in range(8):
        starts = datetime.combine(today + timedelta(days=1 + n % 3), time(19, 30 * (n % 2)), tzinfo=zone)
        values = {
            "customer_id": guests[n],
            "service": f"table for {2 + n % 4}",
            "starts_at": starts.astimezone(UTC),
            "ends_at": starts.astimezone(UTC) + timedelta(hours=2),
        }
        await book_appointment(
            sessions, client, business_id, values, idempotency_key=f"demo-seed-{business_id}-{n}"
        )
    return key


async def _vet(sessions: SessionFactory, client: Client, rng: random.Random) -> str:
    business_id, key, owners = await _business(
        sessions,
        "Demo Vet Clinic",
        "Europe/London",
        6,
        rng,
        locale="en_GB",
        automation={"admin_alerts": "daily_digest", "admin_digest_time": "18:00"},  # one e-mail a day
        client=client,
    )
    with tqdm(total=10, desc="vaccinations", file=sys.stderr) as bar:
        for n in range(10):
            async with sessions() as session:
                pet = await pets.create_pet(
                    session,
                    business_id,
                    {"owner_id": owners[n % len(owners)], "name": f"Pet {n + 1}", "species": "dog"},
                )
            expires = datetime.now(UTC) + timedelta(days=rng.randint(10, 120))
            await register_vaccination(
                sessions,
                client,
                business_id,
                {"pet_id": pet.id, "vaccine": rng.choice(VACCINES), "expires_at": expires},
            )
            bar.update()
    return key


async def _insurer(sessions: SessionFactory, client: Client, rng: random.Random) -> str:
    business_id, key, customers = await _business(sessions, "Demo Shield Insurance", "Asia/Kolkata", 10, rng)
    with tqdm(total=20, desc="policies", file=sys.stderr) as bar:
        for n in range(20):
            end = date.today() + timedelta(days=rng.randint(35, 95))
            values = {
                "customer_id": customers[n % len(customers)],
                "policy_number": f"DEMO-{business_id}-{n + 1:04d}",
                "product": rng.choice(["Motor", "Home", "Health"]),
                "duration_months": 12,
                "end_date": end,
            }
            await register_policy(sessions, client, business_id, values)
            bar.update()
    return key


async def _builder(sessions: SessionFactory, client: Client, rng: random.Random) -> str:
    """A construction company: staff with roles, and invoices whose workflows sleep until their due dates
    (a few fall due this week, one is overdue already and tells the admin and accountant at once)."""
    business_id, key, _ = await _business(sessions, "Demo Prairie Builders", "America/Chicago", 0, rng)
    users = {}
    for name, roles in (("Dana Admin", ["admin"]), ("Avery Books", ["accounting"]), ("Sam Site", ["pm"])):
        async with sessions() as session:
            email = f"{name.split()[0].lower()}@example.com"
            added = await staff.add_user(session, business_id, {"name": name, "email": email, "roles": roles})
            users[name] = added.user.id
    today = datetime.now(UTC).astimezone(ZoneInfo("America/Chicago")).date()
    due_days = [-9, 1, 2, 4, 6, 14, 21, 30, 45, 60]
    with tqdm(total=len(due_days) + 1, desc="invoices", file=sys.stderr) as bar:
        for n, days in enumerate(due_days):
            values = {
                "number": f"PB-{business_id}-{n + 1:04d}",
                "client_name": f"{rng.choice(LAST)} Holdings",
                "amount_cents": rng.randrange(50_000, 5_000_000),
                "currency": "USD",
                "due_on": today + timedelta(days=days),
            }
            await create_invoice(sessions, client, business_id, values)
            bar.update()
        draft = {"number": f"PB-{business_id}-DRAFT", "amount_cents": 120_000, "currency": "USD"}
        await create_invoice(
            sessions,
            client,
            business_id,
            {**draft, "due_on": today + timedelta(days=30), "status": InvoiceStatus.DRAFT},
        )
        bar.update()
    async with sessions() as session:  # a site in Chicago: the weather job fetches its forecast at 05:00
        project, _ = await daily_plans.add_project(
            session,
            business_id,
            {"name": "Lakeside Offices", "latitude": 41.8819, "longitude": -87.6278},
            key=None,
        )
    async with sessions() as session:
        await daily_plans.add_member(session, business_id, project.id, users["Sam Site"])
    for days in range(3):  # drafts of today and the next two days: asleep until 17:00 local
        await create_daily_plan(sessions, client, business_id, project.id, today + timedelta(days=days))
    await _site_records(sessions, business_id, project.id, today)
    return key


async def _site_records(sessions: SessionFactory, business_id: int, project_id: int, today: date) -> None:
    """Inventory (one item short), touch-ups (three serious: the PM and the admin are told), two employees
    with last week's time entries (Monday's weekly-payroll job makes the pending period)."""
    now = datetime.now(UTC)
    for name, unit, quantity, threshold in (("Cement", "bags", 40, 20), ("Rebar", "m", 60, 100)):
        async with sessions() as session:
            await inventory.add_item(
                session,
                business_id,
                {"name": name, "unit": unit, "quantity": quantity, "threshold": threshold},
                now,
            )
    for ref, title, priority in (
        ("TU-1", "Patch drywall, 3rd floor", TouchUpPriority.HIGH),
        ("TU-2", "Repaint stairwell", TouchUpPriority.LOW),
        ("TU-3", "Seal window frames", TouchUpPriority.URGENT),
        ("TU-4", "Fix loose railing", TouchUpPriority.HIGH),
    ):
        async with sessions() as session:
            await touch_ups.create(
                session,
                business_id,
                project_id,
                {"reference": ref, "title": title, "priority": priority},
                now,
            )
    last_monday = today - timedelta(days=today.weekday() + 7)
    for name, rate in (("Jordan Carpenter", 3_200), ("Riley Mason", 2_900)):
        async with sessions() as session:
            employee, _ = await payroll.add_employee(
                session, business_id, {"name": name, "hourly_rate_cents": rate}, key=None
            )
        for day in range(5):
            async with sessions() as session:
                work_date = last_monday + timedelta(days=day)
                await payroll.log_time(
                    session, employee, {"reference": f"{work_date}", "work_date": work_date, "minutes": 480}
                )
