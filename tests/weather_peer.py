"""An Open-Meteo-shaped weather server on 127.0.0.1 for the weather tests.

It answers ``GET /v1/forecast`` the way https://open-meteo.com/en/docs documents: ``daily`` with a ``time``
array of the local dates from ``start_date`` to ``end_date`` and one array per requested ``daily``
variable; HTTP 400 with ``{"error": true, "reason": ...}`` for a parameter it does not know, and for daily
variables without ``timezone`` (the documentation requires it). Sites can be made to fail (HTTP 500), to
answer slowly (past the client's timeout) or to answer nonsense; every request is recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from tests.support import free_port

KNOWN_DAILY = {
    "weather_code",
    "temperature_2m_max",
    "temperature_2m_min",
    "precipitation_sum",
    "wind_speed_10m_max",
    "relative_humidity_2m_mean",
}


@dataclass
class WeatherPeer:
    port: int = field(default_factory=free_port)
    requests: list[dict[str, str]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set, metadata={"doc": "latitudes answered with HTTP 500"})
    slow: set[str] = field(default_factory=set, metadata={"doc": "latitudes answered after 5 s"})
    nonsense: set[str] = field(default_factory=set, metadata={"doc": "latitudes answered with a bad body"})
    temperature: float = 21.5
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def asked_for(self, latitude: str) -> int:
        return sum(1 for r in self.requests if r.get("latitude") == latitude)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/forecast", self._forecast)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _forecast(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.requests.append(query)
        latitude = query.get("latitude", "")
        if latitude in self.failing:
            return web.json_response({"error": True, "reason": "upstream model unavailable"}, status=500)
        if latitude in self.slow:
            await asyncio.sleep(5)
        if latitude in self.nonsense:
            return web.json_response(
                {"daily": {"time": [query["start_date"]], "temperature_2m_max": ["hot"]}}
            )
        variables = [v for v in query.get("daily", "").split(",") if v]
        unknown = [v for v in variables if v not in KNOWN_DAILY]
        if unknown:
            reason = f"Cannot initialize ForecastVariableDaily from invalid String value {unknown[0]}"
            return web.json_response({"error": True, "reason": reason}, status=400)
        if variables and "timezone" not in query:
            return web.json_response({"error": True, "reason": "Timezone is required"}, status=400)
        start, end = date.fromisoformat(query["start_date"]), date.fromisoformat(query["end_date"])
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        daily: dict[str, Any] = {"time": [d.isoformat() for d in days]}
        for name in variables:
            daily[name] = [self._value(name, n) for n in range(len(days))]
        return web.json_response(
            {
                "latitude": float(latitude),
                "longitude": float(query["longitude"]),
                "timezone": query["timezone"],
                "daily_units": {name: "" for name in variables},
                "daily": daily,
            }
        )

    def _value(self, name: str, n: int) -> float | int | None:
        if name == "relative_humidity_2m_mean" and n == 2:
            return None  # a model without the variable that day: Open-Meteo sends null
        return {
            "weather_code": 61,
            "temperature_2m_max": self.temperature + n,
            "temperature_2m_min": self.temperature - 10 + n,
            "precipitation_sum": 4.2,
            "wind_speed_10m_max": 18.0,
            "relative_humidity_2m_mean": 71,
        }[name]
