"""The weather API's HTTP interface: Open-Meteo's ``GET {WEATHER_API_URL}/v1/forecast`` (or any server that
answers the same way). What the answer looks like and how it fails: ``domain.weather``.

Every failure is one project's failed fetch, with a reason: no answer within ``WEATHER_TIMEOUT_S``, a
connection error, HTTP 4xx/5xx (the ``reason`` of Open-Meteo's error object when it sends one), an answer
that is not a forecast. Nothing here retries: the job's next run tries the zone-day again (bounded).
"""

from __future__ import annotations

import json

import aiohttp

from domain.weather import DailyWeather, ForecastUnreadable, ZoneDay, forecast_query, read_forecast

MAX_ANSWER_BYTES = 1 << 20  # three days of six variables is about 1 KB


class WeatherUnavailable(Exception):
    """The weather API did not answer with a forecast (down, slow, refused)."""


class WeatherApi:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, timeout_s: float) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/v1/forecast"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._timeout_s = timeout_s

    async def forecast(self, latitude: float, longitude: float, zone_day: ZoneDay) -> list[DailyWeather]:
        """The site's weather for the zone-day's days (raises WeatherUnavailable or ForecastUnreadable)."""
        query = forecast_query(latitude, longitude, zone_day)
        try:
            async with self._http.get(self._url, params=query, timeout=self._timeout) as response:
                raw = await response.content.read(MAX_ANSWER_BYTES + 1)
                status = response.status
        except TimeoutError as error:
            raise WeatherUnavailable(f"no answer within {self._timeout_s:g} s") from error
        except aiohttp.ClientError as error:
            raise WeatherUnavailable(f"unreachable: {type(error).__name__}: {error}"[:300]) from error
        if len(raw) > MAX_ANSWER_BYTES:
            raise ForecastUnreadable("the answer is larger than 1 MiB")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if status != 200:
            reason = body.get("reason") if isinstance(body, dict) else None
            detail = str(reason) if reason else raw[:120].decode("utf-8", "replace")
            raise WeatherUnavailable(f"HTTP {status}: {detail}"[:300])
        if body is None:
            raise ForecastUnreadable("the answer is not JSON")
        return read_forecast(body, zone_day.days)
