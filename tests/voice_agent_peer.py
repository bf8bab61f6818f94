"""A voice-agent stand-in on 127.0.0.1: answers, declines, does not pick up or fails, on command.

Per policy, a script of replies is consumed in order (then ``default``): ``"answered"``, ``"no_answer"``,
``"declined"`` or ``"fail"`` (HTTP 503). With ``summary_for`` set, an answered call is followed by the agent's
summary callback (``PUT summary_url`` with the business's API key), like the real agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.support import free_port

TOKEN = "voice-agent-test-token"


@dataclass
class VoiceAgentPeer:
    port: int = field(default_factory=free_port)
    default: str = "no_answer"
    scripts: dict[int, list[str]] = field(default_factory=dict)
    delay_s: float = 0.0
    summary_for: dict[int, bool] = field(default_factory=dict)  # policy id -> renewal_agreed
    api_key: str | None = None
    callback_base: str | None = None  # where the API really listens (the summary_url names the public host)
    # Called before the reply to an answered call (the summary then exists before the agent's reply lands).
    on_answered: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)  # accepted calls (distinct call ids)
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    _seen: dict[int, str] = field(default_factory=dict)
    _callbacks: set[asyncio.Task[None]] = field(default_factory=set)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/calls"

    def reset(self) -> None:
        self.default, self.delay_s, self.api_key, self.on_answered = "no_answer", 0.0, None, None
        self.callback_base = None
        self.scripts.clear()
        self.summary_for.clear()
        self.calls.clear()
        self._seen.clear()
        self.requests = self.in_flight = self.max_in_flight = 0

    def calls_for(self, policy_id: int) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["policy_id"] == policy_id]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/calls", self._call)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        for task in self._callbacks:
            task.cancel()
        if self.runner is not None:
            await self.runner.cleanup()

    async def _call(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        body = await request.json()
        call_id, policy_id = int(body["call_id"]), int(body["policy_id"])
        if call_id in self._seen:  # the same call again (our reply was lost): same outcome, no second call
            return web.json_response({"outcome": self._seen[call_id]})
        script = self.scripts.get(policy_id)
        reply = script.pop(0) if script else self.default
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if reply == "fail":
            return web.json_response({"error": "agent down"}, status=503)
        self._seen[call_id] = reply
        self.calls.append({**body, "outcome": reply})
        if reply == "answered" and self.on_answered is not None:
            await self.on_answered(body)
        if reply == "answered" and policy_id in self.summary_for:
            task = asyncio.create_task(self._summarise(body["summary_url"], self.summary_for[policy_id]))
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)
        return web.json_response({"outcome": reply})

    async def _summarise(self, url: str, agreed: bool) -> None:
        await asyncio.sleep(0.2)
        if self.callback_base:
            url = self.callback_base.rstrip("/") + "/v1/" + url.split("/v1/", 1)[1]
        headers = {"Authorization": f"Bearer {self.api_key}"}
        body = {"renewal_agreed": agreed, "summary": "Customer discussed renewal."}
        async with aiohttp.ClientSession() as http, http.put(url, json=body, headers=headers) as response:
            response.raise_for_status()
