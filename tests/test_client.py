"""The typed client (clients/python) cannot drift from the API: each method's operation and each typed
answer is checked against ``/openapi.json``; and it retries as documented (429/503 after Retry-After, one
Idempotency-Key across retries), with typed errors, against an HTTP peer on 127.0.0.1."""

from __future__ import annotations

import contextlib
import typing
from collections.abc import AsyncIterator
from typing import Any

import keeptime_client
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from keeptime_client import models
from keeptime_client.client import OPERATIONS

from api.app import create_app
from api.keys import OPENAPI
from keeptime.settings import Settings


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app(Settings(database_url="postgresql+asyncpg://x@127.0.0.1:9/x"))
    document: dict[str, Any] = app[OPENAPI]
    return document


def test_every_client_method_is_an_operation_of_the_api(document: dict[str, Any]) -> None:
    for name, (method, path) in OPERATIONS.items():
        assert hasattr(keeptime_client.Keeptime, name), name
        assert method.lower() in document["paths"].get(path, {}), f"{name}: {method} {path} is not in the API"


@pytest.mark.parametrize(
    ("typed", "component"),
    [
        (models.Appointment, "AppointmentUpserted"),
        (models.Customer, "CustomerUpserted"),
        (models.Fee, "FeeOut"),
        (models.WebhookEndpoint, "WebhookEndpointOut"),
        (models.EventPage, "EventPage"),
        (models.Event, "EventOut"),
    ],
)
def test_each_typed_answer_has_the_fields_of_its_schema(
    document: dict[str, Any], typed: type, component: str
) -> None:
    schema = document["components"]["schemas"][component]
    assert set(typing.get_type_hints(typed)) == set(schema["properties"]), component
    required = {k for k in typed.__required_keys__}  # type: ignore[attr-defined]
    assert required <= set(schema["properties"])


class Peer:
    """Answers each request from its script: (status, headers, body)."""

    def __init__(self, script: list[tuple[int, dict[str, str], Any]]) -> None:
        self.script = script
        self.seen: list[web.Request] = []
        self.keys: list[str | None] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(request)
        self.keys.append(request.headers.get("Idempotency-Key"))
        status, headers, body = self.script.pop(0) if self.script else (500, {}, {"error": "x"})
        return web.json_response(body, status=status, headers=headers)


@contextlib.asynccontextmanager
async def _client(peer: Peer) -> AsyncIterator[keeptime_client.Keeptime]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", peer.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        client = keeptime_client.Keeptime(str(server.make_url("")), "kt_key", max_retries=2)
        async with client:
            yield client


async def test_a_write_is_retried_after_retry_after_with_one_idempotency_key() -> None:
    booked = {"id": 7}
    peer = Peer(
        [
            (503, {"Retry-After": "0"}, {"error": "unavailable"}),
            (429, {"Retry-After": "0"}, {}),
            (201, {}, booked),
        ]
    )
    async with _client(peer) as kt:
        answer = await kt.book_appointment(
            customer_id=1, starts_at="2031-01-01T09:00:00Z", ends_at="2031-01-01T10:00:00Z"
        )
    assert dict(answer) == booked and len(peer.keys) == 3
    assert peer.keys[0] is not None and len(set(peer.keys)) == 1  # the same key on every retry


async def test_errors_are_typed_and_name_the_field() -> None:
    fields = [{"field": "customer_id", "message": "no such customer"}]
    peer = Peer(
        [
            (404, {}, {"error": "not_found", "message": "no such customer", "fields": fields}),
            (
                409,
                {},
                {"error": "conflict", "message": "taken", "fields": [{"field": "starts_at", "message": "x"}]},
            ),
            (422, {}, {"error": "validation_error", "message": "bad", "fields": []}),
            *[(429, {"Retry-After": "0"}, {"error": "rate_limited"})] * 3,
        ]
    )
    async with _client(peer) as kt:
        with pytest.raises(keeptime_client.NotFound) as missing:
            await kt.get_appointment(1)
        assert missing.value.field == "customer_id" and missing.value.status == 404
        with pytest.raises(keeptime_client.Conflict) as taken:
            await kt.mark_fee_paid(1, "ch_1")
        assert taken.value.field == "starts_at"
        with pytest.raises(keeptime_client.ValidationFailed):
            await kt.waive_fee(1)
        with pytest.raises(keeptime_client.RateLimited):  # after its 2 retries
            await kt.get_appointment(1)
    assert len(peer.seen) == 6


async def test_events_iterate_through_every_page() -> None:
    def event(n: int) -> dict[str, Any]:
        return {"id": f"evt_{n}", "type": "fee.applied", "occurred_at": "x", "entity": "fee:1", "data": {}}

    peer = Peer(
        [
            (200, {}, {"items": [event(1), event(2)], "next_cursor": "c2", "has_more": True}),
            (200, {}, {"items": [event(3)], "next_cursor": "c3", "has_more": False}),
        ]
    )
    async with _client(peer) as kt:
        got = [e["id"] async for e in kt.events(types=["fee.applied"], page_size=2)]
    assert got == ["evt_1", "evt_2", "evt_3"]
    assert [r.query.get("after") for r in peer.seen] == [None, "c2"]
    assert peer.seen[0].query["type"] == "fee.applied" and peer.keys == [None, None]  # reads carry no key
