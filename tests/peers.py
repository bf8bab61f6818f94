"""Real protocol peers on 127.0.0.1 for the notification tests: an SMTP server and a provider HTTP server.

``ProviderPeer`` speaks the Twilio Messages and FCM v1 request shapes, checks their auth, honours
idempotency keys the way those providers do (a repeated key returns the first message), and can be told to
fail the next requests (500, 429 with Retry-After, 400 invalid number).
"""

from __future__ import annotations

import base64
import email
import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support import free_port

TWILIO_SID = "AC0000000000000000000000000000test"
TWILIO_TOKEN = "twilio-test-token"
FCM_PROJECT = "keeptime-test"
FCM_TOKEN = "fcm-test-token"
INVALID_NUMBER = "+15005550001"  # Twilio's magic "invalid number"


class _Handler:
    def __init__(self, peer: SmtpPeer) -> None:
        self._peer = peer

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._peer.fail_codes:
            return self._peer.fail_codes.pop(0)
        if address.endswith("@invalid.test"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self._peer.messages.append(email.message_from_bytes(content))
        return "250 Message accepted"


@dataclass
class SmtpPeer:
    port: int = field(default_factory=free_port)
    messages: list[Message] = field(default_factory=list)
    fail_codes: list[str] = field(default_factory=list)
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def reset(self) -> None:
        self.messages.clear()
        self.fail_codes.clear()


@dataclass
class Failure:
    status: int
    retry_after: str | None = None
    body: str = '{"message": "injected failure"}'


@dataclass
class Chaos:
    """Random failures for benchmarks: before accepting (500, 429) and after accepting (response lost)."""

    fail_before: float = 0.0
    throttle: float = 0.0
    lose_response: float = 0.0
    random: random.Random = field(default_factory=lambda: random.Random(7))


@dataclass
class ProviderPeer:
    """Twilio- and FCM-shaped HTTP peer. ``accepted`` holds one entry per distinct message it accepted."""

    port: int = field(default_factory=free_port)
    accepted: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"sms": [], "push": []})
    requests: dict[str, int] = field(default_factory=lambda: {"sms": 0, "push": 0})
    failures: dict[str, list[Failure]] = field(default_factory=lambda: {"sms": [], "push": []})
    chaos: Chaos | None = None
    resent_keys: int = 0
    _by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, channel: str, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        self.failures[channel].extend(Failure(status, retry_after) for _ in range(times))

    def reset(self) -> None:
        for channel in self.accepted:
            self.accepted[channel].clear()
            self.failures[channel].clear()
            self.requests[channel] = 0
        self._by_key.clear()
        self.chaos = None
        self.resent_keys = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._twilio)
        app.router.add_post("/v1/projects/{project}/messages:send", self._fcm)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def _injected(self, channel: str) -> web.Response | None:
        self.requests[channel] += 1
        if self.chaos is not None:
            roll = self.chaos.random.random()
            if roll < self.chaos.fail_before:
                return web.Response(status=503, text="chaos")
            if roll < self.chaos.fail_before + self.chaos.throttle:
                return web.Response(status=429, text="chaos", headers={"Retry-After": "1"})
        if not self.failures[channel]:
            return None
        failure = self.failures[channel].pop(0)
        headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
        return web.Response(
            status=failure.status, text=failure.body, headers=headers, content_type="application/json"
        )

    async def _twilio(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if request.match_info["sid"] != TWILIO_SID or request.headers.get("Authorization") != expected:
            return web.json_response({"message": "Authenticate"}, status=401)
        if (injected := self._injected("sms")) is not None:
            return injected
        form = dict(await request.post())
        if form.get("To") == INVALID_NUMBER:
            return web.json_response({"code": 21211, "message": "Invalid 'To' Phone Number"}, status=400)
        key = request.headers.get("I-Twilio-Idempotency-Token", "")
        accepted = self._accept("sms", key, {"form": form, "sid": f"SM{next(self._ids):032d}"}, "sid")
        if self.chaos is not None and self.chaos.random.random() < self.chaos.lose_response:
            return web.Response(status=502, text="chaos: accepted, then the response was lost")
        return web.json_response(accepted, status=201)

    async def _fcm(self, request: web.Request) -> web.Response:
        if (
            request.headers.get("Authorization") != f"Bearer {FCM_TOKEN}"
            or request.match_info["project"] != FCM_PROJECT
        ):
            return web.json_response({"error": {"status": "UNAUTHENTICATED"}}, status=401)
        if (injected := self._injected("push")) is not None:
            return injected
        body = await request.json()
        if body["message"].get("token") == "invalid-token":
            return web.json_response({"error": {"status": "INVALID_ARGUMENT"}}, status=400)
        key = request.headers.get("Idempotency-Key", "")
        name = f"projects/{FCM_PROJECT}/messages/{next(self._ids)}"
        return web.json_response(self._accept("push", key, {"json": body, "name": name}, "name"))

    def _accept(self, channel: str, key: str, entry: dict[str, Any], id_field: str) -> dict[str, Any]:
        if key and key in self._by_key:  # a retried request: the provider returns the first message
            self.resent_keys += 1
            return {id_field: self._by_key[key][id_field], "status": "queued"}
        entry["key"] = key
        entry["at"] = datetime.now(UTC)
        self.accepted[channel].append(entry)
        if key:
            self._by_key[key] = entry
        return {id_field: entry[id_field], "status": "queued"}
