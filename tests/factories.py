"""Rows for tests, written through the ORM with sensible defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from db.engine import SessionFactory
from db.models import Appointment, Business, Customer
from domain.statuses import AppointmentStatus


async def make_business(sessions: SessionFactory, **values: Any) -> Business:
    defaults: dict[str, Any] = {
        "name": "Studio Nord",
        "time_zone": "Europe/Berlin",
        "admin_email": "owner@studio.test",
    }
    async with sessions() as session:
        business = Business(**{**defaults, **values})
        session.add(business)
        await session.commit()
        await session.refresh(business)
    return business


async def make_customer(sessions: SessionFactory, business: Business, **values: Any) -> Customer:
    defaults: dict[str, Any] = {
        "name": "Ada Lovelace",
        "email": "ada@example.test",
        "phone": "+4915112345678",
        "push_token": "device-token-1",
        "channel_order": ["email", "sms", "push"],
        "email_opted_in": True,
        "sms_opted_in": True,
        "push_opted_in": True,
    }
    async with sessions() as session:
        customer = Customer(business_id=business.id, **{**defaults, **values})
        session.add(customer)
        await session.commit()
        await session.refresh(customer)
    return customer


async def make_appointment(
    sessions: SessionFactory, business: Business, customer: Customer, **values: Any
) -> Appointment:
    starts_at = values.pop("starts_at", datetime.now(UTC) + timedelta(days=2))
    defaults: dict[str, Any] = {
        "status": AppointmentStatus.CONFIRMED,
        "service": "Haircut",
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=1),
    }
    async with sessions() as session:
        appointment = Appointment(business_id=business.id, customer_id=customer.id, **{**defaults, **values})
        session.add(appointment)
        await session.commit()
        await session.refresh(appointment)
    return appointment


async def set_appointment(sessions: SessionFactory, appointment_id: int, **values: Any) -> None:
    async with sessions() as session:
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None
        for key, value in values.items():
            setattr(appointment, key, value)
        await session.commit()
