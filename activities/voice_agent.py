"""The AI voice agent's HTTP interface: ask it to call a customer; it answers with the call's outcome.

``POST {VOICE_AGENT_URL}`` with JSON ``{call_id, policy_id, reason, customer: {name, phone, locale},
summary_url}`` and ``Idempotency-Key: <call key>``. A 2xx reply carries ``{"outcome": "answered" | "no_answer"
| "declined"}``; when the customer answered, the agent later sends its summary to ``summary_url``
(``PUT /v1/calls/{id}/summary``). 5xx, 429 and network errors are transport failures (Temporal retries them);
other 4xx replies are permanent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from keeptime.settings import Settings

AgentOutcome = Literal["answered", "no_answer", "declined"]
OUTCOMES: frozenset[str] = frozenset({"answered", "no_answer", "declined"})


class VoiceAgentUnavailable(Exception):
    """Transport failure: worth retrying."""


class VoiceAgentRejected(Exception):
    """The agent refused the request (4xx or a malformed reply): retrying will not help."""


@dataclass(frozen=True)
class CallRequest:
    call_id: int
    policy_id: int
    reason: str
    customer_name: str
    phone: str
    locale: str
    idempotency_key: str


class VoiceAgentClient:
    def __init__(self, settings: Settings, http: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._http = http

    async def place_call(self, call: CallRequest) -> AgentOutcome:
        url = self._settings.voice_agent_url
        if not url:
            raise VoiceAgentRejected("VOICE_AGENT_URL is not set")
        headers = {"Idempotency-Key": call.idempotency_key}
        token = self._settings.voice_agent_token
        if token is not None and token.get_secret_value():
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        base = self._settings.public_base_url.rstrip("/")
        body = {
            "call_id": call.call_id,
            "policy_id": call.policy_id,
            "reason": call.reason,
            "customer": {"name": call.customer_name, "phone": call.phone, "locale": call.locale},
            "summary_url": f"{base}/v1/calls/{call.call_id}/summary",
        }
        timeout = aiohttp.ClientTimeout(total=self._settings.voice_agent_timeout_s)
        try:
            async with self._http.post(url, json=body, headers=headers, timeout=timeout) as response:
                if response.status >= 500 or response.status == 429:
                    raise VoiceAgentUnavailable(f"voice agent answered HTTP {response.status}")
                if response.status >= 400:
                    raise VoiceAgentRejected(f"voice agent refused the call: HTTP {response.status}")
                reply: Any = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise VoiceAgentUnavailable(f"voice agent unreachable: {error!r}") from error
        outcome = reply.get("outcome") if isinstance(reply, dict) else None
        if outcome not in OUTCOMES:
            raise VoiceAgentRejected(f"voice agent reply has no valid outcome: {reply!r}")
        result: AgentOutcome = outcome
        return result
