"""A staff user's notification preferences through the real HTTP API: the default, a whole set put and put
again, the rules it enforces (sms needs a phone, no repeats, known families), other tenants see nothing."""

from __future__ import annotations

from tests.test_api_invoices import Client, construction_company


async def test_preferences_are_put_whole_repeat_safely_and_name_the_field_at_fault(api: Client) -> None:
    auth, users = await construction_company(api)
    other, _ = await construction_company(api)
    url = f"/v1/staff/{users['carl']}/notifications/preferences"
    default = await (await api.get(url, headers=auth)).json()
    assert default == {
        "delivery": "immediate",
        "channels": ["email"],
        "digest_time": "08:00",
        "muted": [],
        "phone": None,
    }
    wanted = {
        "delivery": "digest",
        "channels": ["sms", "email"],
        "digest_time": "17:30",
        "muted": ["inventory"],
        "phone": "+4915100000002",
    }
    first = await api.put(url, json=wanted, headers=auth)
    assert first.status == 200 and (await first.json()) == wanted
    again = await api.put(url, json=wanted, headers=auth)
    assert again.status == 200 and (await again.json()) == wanted
    listed = (await (await api.get("/v1/staff", headers=auth)).json())["items"]
    carl = next(u for u in listed if u["id"] == users["carl"])
    assert carl["phone"] == "+4915100000002" and carl["notifications"] == wanted

    cases = [
        ({"delivery": "immediate", "channels": ["sms"]}, "phone"),  # sms needs a phone
        ({"delivery": "immediate", "channels": ["email", "email"]}, "channels"),
        ({"delivery": "hourly"}, "delivery"),
        ({"delivery": "digest", "digest_time": "25:00"}, "digest_time"),
        ({"delivery": "digest", "muted": ["weather"]}, "muted.0"),
        ({"delivery": "digest", "phone": "0151 123"}, "phone"),
        ({"delivery": "digest", "pager": "x"}, "pager"),
    ]
    for body, field in cases:
        answer = await api.put(url, json=body, headers=auth)
        assert answer.status == 422, (body, await answer.text())
        assert (await answer.json())["fields"][0]["field"] == field, (body, await answer.json())
    assert (await (await api.get(url, headers=auth)).json()) == wanted  # nothing of the bad ones stored
    assert (await api.put(url, json=wanted, headers=other)).status == 404
    assert (await api.get(url, headers=other)).status == 404
    assert (await api.get("/v1/staff/999999999/notifications/preferences", headers=auth)).status == 404
