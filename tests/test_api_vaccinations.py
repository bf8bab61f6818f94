"""Pets and vaccination records through the real HTTP API on the dev server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]
ADMIN = {"Authorization": "Bearer dev-admin-key"}


async def clinic(api: Client) -> tuple[dict[str, str], int]:
    created = await (
        await api.post("/v1/businesses", json={"name": "Vet", "time_zone": "Europe/Vienna"}, headers=ADMIN)
    ).json()
    auth = {"Authorization": f"Bearer {created['api_key']}"}
    owner = await (
        await api.post(
            "/v1/customers",
            json={"name": "Eva Berg", "phone": "+436641112223", "sms_opted_in": True},
            headers=auth,
        )
    ).json()
    pet = await api.post(
        "/v1/pets", json={"owner_id": owner["id"], "name": "Luna", "species": "cat"}, headers=auth
    )
    assert pet.status == 201
    return auth, (await pet.json())["id"]


def expiring_in(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def test_register_supersede_and_list_upcoming(api: Client) -> None:
    auth, pet_id = await clinic(api)
    first = await api.post(
        "/v1/vaccinations",
        json={"pet_id": pet_id, "vaccine": "Rabies", "expires_at": expiring_in(20)},
        headers=auth,
    )
    assert first.status == 201
    first_record: dict[str, Any] = await first.json()
    second = await api.post(
        "/v1/vaccinations",
        json={"pet_id": pet_id, "vaccine": "Rabies", "expires_at": expiring_in(380)},
        headers=auth,
    )
    second_record: dict[str, Any] = await second.json()
    other = await api.post(
        "/v1/vaccinations",
        json={"pet_id": pet_id, "vaccine": "FeLV", "expires_at": expiring_in(10)},
        headers=auth,
    )
    assert other.status == 201
    old = await (await api.get(f"/v1/vaccinations/{first_record['id']}", headers=auth)).json()
    assert (old["status"], old["superseded_by"]) == ("superseded", second_record["id"])
    upcoming = await (await api.get("/v1/vaccinations/upcoming?within_days=30", headers=auth)).json()
    assert [item["vaccine"] for item in upcoming["items"]] == ["FeLV"]
    assert upcoming["items"][0]["pet"]["name"] == "Luna"
    shown = await (await api.get(f"/v1/vaccinations/{second_record['id']}", headers=auth)).json()
    assert shown["workflow"]["next_action"] == "30-day alert"


async def test_vaccination_input_is_validated_and_tenant_scoped(api: Client) -> None:
    auth, pet_id = await clinic(api)
    stranger, _ = await clinic(api)
    for body, field in (
        ({"pet_id": pet_id, "vaccine": "Rabies", "expires_at": "2031-01-01T00:00:00"}, "expires_at"),
        ({"pet_id": pet_id, "vaccine": "", "expires_at": expiring_in(5)}, "vaccine"),
        (
            {
                "pet_id": pet_id,
                "vaccine": "Rabies",
                "expires_at": expiring_in(5),
                "administered_at": expiring_in(6),
            },
            "expires_at",
        ),
    ):
        response = await api.post("/v1/vaccinations", json=body, headers=auth)
        assert response.status == 422, body
        assert field in [f["field"] for f in (await response.json())["fields"]]
    unknown = {"pet_id": 999_999, "vaccine": "Rabies", "expires_at": expiring_in(5)}
    response = await api.post("/v1/vaccinations", json=unknown, headers=auth)
    assert response.status == 404 and (await response.json())["fields"][0]["field"] == "pet_id"
    response = await api.post(
        "/v1/vaccinations",
        json={"pet_id": pet_id, "vaccine": "Rabies", "expires_at": expiring_in(5)},
        headers=stranger,
    )
    assert response.status == 404  # another clinic's pet is not found
    assert (await api.get("/v1/vaccinations/upcoming?within_days=0", headers=auth)).status == 422
