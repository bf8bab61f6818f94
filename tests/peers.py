"""Real protocol peers on 127.0.0.1 for the notification tests: an SMTP server and a provider HTTP server.

``ProviderPeer`` speaks the Twilio Messages, Telnyx v2 Messages and FCM v1 request shapes, checks their auth,
and keeps the providers' real idempotency semantics (see ``activities.providers.Guarantees``): Twilio and FCM
take every request as a new message (no request key exists); Telnyx replays the first successful response
for a repeated ``Idempotency-Key`` with the same body and answers 422 for another body. ``accepted`` is what
recipients got, raw. It can fail the next requests (500, 429 with Retry-After, 400 invalid number), take a
message and then lose the answer (``lose_next``), and send Twilio's signed status callbacks (``callbacks``).
"""

from __future__ import annotations

import asyncio
import base64
import email
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from yarl import URL

from tests.support import free_port

TELNYX_KEY = "KEY0123456789telnyx-test"
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
        self._peer.received_at.append(datetime.now(UTC))
        chaos = self._peer.lose_rate and self._peer.random.random() < self._peer.lose_rate
        if (
            self._peer.lose > 0 or chaos
        ):  # taken, and the connection drops before the 250: the client cannot know
            self._peer.lose = max(0, self._peer.lose - 1)
            if server.transport is not None:
                server.transport.close()
        return "250 Message accepted"


@dataclass
class SmtpPeer:
    port: int = field(default_factory=free_port)
    messages: list[Message] = field(default_factory=list)
    received_at: list[datetime] = field(default_factory=list)
    fail_codes: list[str] = field(default_factory=list)
    lose: int = 0
    lose_rate: float = 0.0  # benchmarks: the share of messages taken whose 250 is lost
    random: random.Random = field(default_factory=lambda: random.Random(11))
    controller: Controller | None = None

    def lose_next(self, times: int = 1) -> None:
        self.lose += times

    def start(self) -> None:
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    def reset(self) -> None:
        self.messages.clear()
        self.received_at.clear()
        self.fail_codes.clear()
        self.lose = 0


@dataclass
class Failure:
    status: int
    retry_after: str | None = None
    body: str = '{"message": "injected failure"}'


@dataclass
class Chaos:
    """Random failures for benchmarks, each a share of requests (issue 32, defect 8).

    Before accepting (nothing was made): ``fail_before`` 503, ``throttle`` 429 with Retry-After: 1,
    ``drop_before`` the connection drops before the request is read. After accepting (the message exists):
    ``lose_response`` the connection drops instead of the answer, ``gateway_after`` a 500/502/504 from the
    front of the provider, ``slow_after`` the answer comes ``slow_s`` later (past our provider timeout).
    Twilio's status callbacks: ``receipt_late`` come ``receipt_late_s`` later (Twilio's first callback is
    at ``sent``, which lags under sender queueing), ``receipt_lost`` never come."""

    fail_before: float = 0.0
    throttle: float = 0.0
    lose_response: float = 0.0
    drop_before: float = 0.0
    gateway_after: float = 0.0
    slow_after: float = 0.0
    slow_s: float = 12.0
    receipt_late: float = 0.0
    receipt_late_s: float = 20.0
    receipt_lost: float = 0.0
    random: random.Random = field(default_factory=lambda: random.Random(7))


@dataclass
class ProviderPeer:
    """Twilio-, Telnyx- and FCM-shaped HTTP peer. ``accepted`` holds every message a recipient got."""

    port: int = field(default_factory=free_port)
    accepted: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"sms": [], "push": []})
    requests: dict[str, int] = field(default_factory=lambda: {"sms": 0, "push": 0})
    failures: dict[str, list[Failure]] = field(default_factory=lambda: {"sms": [], "push": []})
    lose: dict[str, int] = field(default_factory=lambda: {"sms": 0, "push": 0})
    chaos: Chaos | None = None
    replayed: int = 0  # requests answered from a provider's idempotency record (Telnyx only)
    callbacks: str | None = None  # Twilio status callbacks: the base URL our public_base_url really is at
    callbacks_answered: list[int] = field(default_factory=list)
    # Twilio: the status each message's callback reports (``failed``/``undelivered``: it never arrived), and
    # how many of the next Messages list requests fail (503) before one is answered.
    callback_status: str = "sent"
    failing_lookups: int = 0
    lookups: int = 0
    telnyx_key_ttl_s: float = 24 * 3600  # how long Telnyx answers a repeated Idempotency-Key from its record
    # Requests that came with a key while an earlier request with it was still being answered: Telnyx keeps a
    # record only of a successful response, so such a request finds none and makes a second message (its
    # documentation says nothing more of it; this is the reading that costs us most).
    concurrent_same_key: int = 0
    slow: dict[str, list[float]] = field(default_factory=lambda: {"sms": [], "push": []})
    _telnyx_keys: dict[str, tuple[bytes, dict[str, Any], float]] = field(default_factory=dict)
    _telnyx_answering: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, channel: str, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        self.failures[channel].extend(Failure(status, retry_after) for _ in range(times))

    def slow_next(self, channel: str, seconds: float) -> None:
        """Take the next message, then answer only after ``seconds`` (past the sender's timeout)."""
        self.slow[channel].append(seconds)

    def lose_next(self, channel: str, *, times: int = 1) -> None:
        """Take the next message(s), then drop the connection before answering: the sender cannot know."""
        self.lose[channel] += times

    def reset(self) -> None:
        for channel in self.accepted:
            self.accepted[channel].clear()
            self.failures[channel].clear()
            self.requests[channel] = 0
            self.lose[channel] = 0
        self._telnyx_keys.clear()
        self._telnyx_answering.clear()
        self.concurrent_same_key = 0
        for channel in self.slow:
            self.slow[channel].clear()
        self.telnyx_key_ttl_s = 24 * 3600
        self.chaos = None
        self.replayed = 0
        self.callbacks = None
        self.callbacks_answered.clear()  # a test waits for its own callback, not a previous test's
        self.callback_status = "sent"
        self.failing_lookups = 0
        self.lookups = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._twilio)
        app.router.add_get("/2010-04-01/Accounts/{sid}/Messages.json", self._twilio_list)
        app.router.add_post("/v1/projects/{project}/messages:send", self._fcm)
        app.router.add_post("/v2/messages", self._telnyx)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.runner is not None:
            await self.runner.cleanup()

    async def _answer(self, channel: str, request: web.Request, response: web.Response) -> web.Response:
        """The answer, unless this message's answer is to be lost (taken, then the connection drops), comes
        late, or is a gateway's error (``Chaos``)."""
        lost = self.lose[channel] > 0
        if not lost and self.slow[channel]:
            await asyncio.sleep(self.slow[channel].pop(0))
        if self.chaos is not None:
            roll = self.chaos.random.random()
            lost = lost or roll < self.chaos.lose_response
            roll -= self.chaos.lose_response
            if not lost and 0 <= roll < self.chaos.gateway_after:
                status = self.chaos.random.choice((500, 502, 504))
                return web.Response(status=status, text="chaos: the gateway lost the provider's answer")
            roll -= self.chaos.gateway_after
            if not lost and 0 <= roll < self.chaos.slow_after:
                await asyncio.sleep(self.chaos.slow_s)  # the sender gave up; the message was made anyway
        if not lost:
            return response
        self.lose[channel] = max(0, self.lose[channel] - 1)
        if request.transport is not None:
            request.transport.abort()  # the answer is written to nowhere: the client sees the connection drop
        return response

    def _injected(self, channel: str, request: web.Request) -> web.Response | None:
        self.requests[channel] += 1
        if self.chaos is not None:
            roll = self.chaos.random.random()
            if roll < self.chaos.fail_before:
                return web.Response(status=503, text="chaos")
            if roll < self.chaos.fail_before + self.chaos.throttle:
                return web.Response(status=429, text="chaos", headers={"Retry-After": "1"})
            if roll < self.chaos.fail_before + self.chaos.throttle + self.chaos.drop_before:
                if request.transport is not None:
                    request.transport.abort()  # dropped before it was read: nothing was made
                return web.Response(status=503, text="chaos")
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
        if (injected := self._injected("sms", request)) is not None:
            return injected
        form = dict(await request.post())
        if form.get("To") == INVALID_NUMBER:
            return web.json_response({"code": 21211, "message": "Invalid 'To' Phone Number"}, status=400)
        # No idempotency on the Messages API: every request is a message (I-Twilio-Idempotency-Token is a
        # header Twilio puts on its own webhooks, and ignored here as by Twilio).
        sid = f"SM{next(self._ids):032d}"
        entry = {"form": form, "sid": sid, "provider": "twilio", "status": "queued"}
        self._deliver("sms", entry)
        if self.callbacks and isinstance(form.get("StatusCallback"), str):
            self._spawn(self._status_callback(str(form["StatusCallback"]), entry))
        return await self._answer(
            "sms", request, web.json_response({"sid": sid, "status": "queued"}, status=201)
        )

    async def _twilio_list(self, request: web.Request) -> web.Response:
        """Twilio's Messages list (GET Messages.json): every message the account made, newest first,
        filtered by ``To`` and ``From``; a message exists from the moment its create call made it."""
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if request.match_info["sid"] != TWILIO_SID or request.headers.get("Authorization") != expected:
            return web.json_response({"message": "Authenticate"}, status=401)
        self.lookups += 1
        if self.failing_lookups > 0:
            self.failing_lookups -= 1
            return web.json_response({"message": "Service Unavailable"}, status=503)
        to, sender = request.query.get("To"), request.query.get("From")
        page_size = int(request.query.get("PageSize", "50"))
        messages = [
            {
                "sid": entry["sid"],
                "to": entry["form"].get("To"),
                "from": entry["form"].get("From"),
                "body": entry["form"].get("Body"),
                "status": entry["status"],
                "date_created": format_datetime(entry["at"], usegmt=True),
            }
            for entry in reversed(self.accepted["sms"])
            if entry.get("provider") == "twilio"
            and (to is None or entry["form"].get("To") == to)
            and (sender is None or entry["form"].get("From") == sender)
        ][:page_size]
        return web.json_response({"messages": messages, "page_size": page_size, "next_page_uri": None})

    async def _telnyx(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TELNYX_KEY}":
            return web.json_response(
                {"errors": [{"code": "10009", "title": "Authentication failed"}]}, status=401
            )
        if (injected := self._injected("sms", request)) is not None:
            return injected
        raw = await request.read()
        sent_key = request.headers.get("Idempotency-Key", "")
        key = sent_key
        if key in self._telnyx_answering:
            self.concurrent_same_key += 1  # no record yet: a new message (see ``concurrent_same_key``)
            key = ""
        known = self._telnyx_keys.get(key) if key else None
        if known is not None and time.monotonic() - known[2] > self.telnyx_key_ttl_s:
            known = None  # Telnyx keeps a key's first response for 24 h; after that it is a new request
        if known is not None:
            body, answer, _ = known
            if body != raw:
                return web.json_response({"errors": [{"title": "Idempotency key reused"}]}, status=422)
            self.replayed += 1
            return await self._answer("sms", request, web.json_response(answer))
        message = json.loads(raw)
        answer = {"data": {"id": f"40385f64-{next(self._ids):012d}", "to": [{"status": "queued"}]}}
        self._deliver(
            "sms", {"json": message, "id": answer["data"]["id"], "key": sent_key, "provider": "telnyx"}
        )
        if not key:
            return await self._answer("sms", request, web.json_response(answer))
        # "Only successful responses are replayed" (developers.telnyx.com/docs/development/api-fundamentals/
        # idempotency): the record exists once the response does, late or lost on its way or not.
        self._telnyx_answering.add(key)
        try:
            return await self._answer("sms", request, web.json_response(answer))
        finally:
            self._telnyx_answering.discard(key)
            self._telnyx_keys[key] = (raw, answer, time.monotonic())

    async def _fcm(self, request: web.Request) -> web.Response:
        if (
            request.headers.get("Authorization") != f"Bearer {FCM_TOKEN}"
            or request.match_info["project"] != FCM_PROJECT
        ):
            return web.json_response({"error": {"status": "UNAUTHENTICATED"}}, status=401)
        if (injected := self._injected("push", request)) is not None:
            return injected
        body = await request.json()
        if body["message"].get("token") == "invalid-token":
            return web.json_response({"error": {"status": "INVALID_ARGUMENT"}}, status=400)
        name = f"projects/{FCM_PROJECT}/messages/{next(self._ids)}"  # no request key exists in FCM v1
        self._deliver("push", {"json": body, "name": name})
        return await self._answer("push", request, web.json_response({"name": name}))

    def message_keys(self, channel: str) -> list[str]:
        """What names each raw delivery on ``channel``: our key (FCM data; Telnyx's hashed form), or for
        Twilio the log row its StatusCallback URL names (``log:<id>``)."""
        keys = []
        for entry in self.accepted[channel]:
            if "json" in entry and channel == "push":
                keys.append(str(entry["json"]["message"]["data"].get("idempotency_key", "")))
            elif entry.get("provider") == "telnyx":
                keys.append(str(entry["key"]))
            else:
                callback = urlsplit(str(entry["form"].get("StatusCallback", "")))
                keys.append("log:" + parse_qs(callback.query).get("log", [""])[0])
        return keys

    def _deliver(self, channel: str, entry: dict[str, Any]) -> None:
        entry["at"] = datetime.now(UTC)
        self.accepted[channel].append(entry)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _status_callback(self, url: str, entry: dict[str, Any]) -> None:
        """What Twilio does: POST the new status (``callback_status``: ``sent``, or ``failed`` /
        ``undelivered`` for a message that never arrived) to the message's StatusCallback URL, signed."""
        from api.provider_callbacks import twilio_signature  # Twilio's documented algorithm

        delay, lost = 0.05, False
        if self.chaos is not None:
            roll = self.chaos.random.random()
            lost = roll < self.chaos.receipt_lost  # the status moves on; the callback never comes
            if not lost and roll < self.chaos.receipt_lost + self.chaos.receipt_late:
                delay = self.chaos.receipt_late_s  # the sender's queue: the message is `sent` late
        await asyncio.sleep(delay)
        entry["status"] = self.callback_status
        if lost:
            return
        form = {"MessageSid": entry["sid"], "MessageStatus": self.callback_status, "AccountSid": TWILIO_SID}
        if self.callback_status in ("failed", "undelivered"):
            form["ErrorCode"] = "30003"  # Twilio: Unreachable destination handset
        headers = {"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, form)}
        assert self.callbacks is not None
        # encoded=True: sent byte for byte as given, as Twilio requests the URL it was given
        target = URL(self.callbacks.rstrip("/") + url[url.index("/v1/") :], encoded=True)
        async with aiohttp.ClientSession() as http, http.post(target, data=form, headers=headers) as answer:
            self.callbacks_answered.append(answer.status)
