"""Construction weather (pure): which zones' daily run is due, the forecast request, and reading its answer.

The predecessor's ``fetch-weather-snapshots`` ran daily at 05:00 company-local. Here a zone's run for a
local day is due from 05:00 local (DST-correct through ``local_wall_time``); the ``weather`` job looks
every 15 minutes, so a zone is served within 15 minutes of its 05:00 and, after an outage, by the next run
that day. A run fetches today and the next ``FORECAST_DAYS - 1`` days, so tomorrow's daily plans carry a
forecast the evening before.

The answer is Open-Meteo's ``/v1/forecast`` JSON (https://open-meteo.com/en/docs, "API Documentation" and
"Errors"): ``daily`` holds a ``time`` array of ISO dates and one array per requested variable, any value of
which may be ``null`` (a model without that variable); ``daily`` variables require ``timezone``; a bad
parameter answers HTTP 400 with ``{"error": true, "reason": "..."}``. ``weather_code`` is a WMO code.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from domain.timekeeping import local_wall_time

RUN_AT = time(5, 0)
FORECAST_DAYS = 3
MAX_ATTEMPTS = 4  # a zone-day whose fetches failed is tried again by the next 4 runs (about an hour)

DAILY_VARIABLES = (
    "weather_code",
    "temperature_2m_max",
    "temperature_2m_min",
    "precipitation_sum",
    "wind_speed_10m_max",
    "relative_humidity_2m_mean",
)

# WMO weather interpretation codes, as Open-Meteo's documentation lists them.
CONDITIONS = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "depositing rime fog",
    51: "light drizzle",
    53: "moderate drizzle",
    55: "dense drizzle",
    56: "light freezing drizzle",
    57: "dense freezing drizzle",
    61: "slight rain",
    63: "moderate rain",
    65: "heavy rain",
    66: "light freezing rain",
    67: "heavy freezing rain",
    71: "slight snow",
    73: "moderate snow",
    75: "heavy snow",
    77: "snow grains",
    80: "slight rain showers",
    81: "moderate rain showers",
    82: "violent rain showers",
    85: "slight snow showers",
    86: "heavy snow showers",
    95: "thunderstorm",
    96: "thunderstorm with slight hail",
    99: "thunderstorm with heavy hail",
}


class DailyWeather(BaseModel):
    """One project-day's weather, as stored in ``weather_snapshots`` and copied into its daily plan."""

    day: date
    temperature_max_c: float | None = None
    temperature_min_c: float | None = None
    conditions: str | None = None
    weather_code: int | None = None
    precipitation_mm: float | None = None
    wind_max_kmh: float | None = None
    humidity_pct: float | None = None

    def stored(self) -> dict[str, Any]:
        """What a daily plan keeps (JSON): the figures without the day."""
        return self.model_dump(mode="json", exclude={"day"})


class ForecastUnreadable(ValueError):
    """The answer is not a forecast we can store (the reason is recorded on the project's failed fetch)."""


class WeatherRunInput(BaseModel):
    """Input of WeatherWorkflow; ``at`` is fixed by the workflow, so a retried activity sees one instant."""

    at: datetime | None = None


class ZoneDay(BaseModel):
    time_zone: str
    run_date: date = Field(description="the zone's local day this run serves")

    @property
    def days(self) -> list[date]:
        return [self.run_date + timedelta(days=n) for n in range(FORECAST_DAYS)]


def due_day(now: datetime, zone: ZoneInfo) -> date | None:
    """The zone's local day whose run is due at ``now`` (from 05:00 local), or None before 05:00."""
    local_day = now.astimezone(zone).date()
    run_at = local_wall_time(datetime.combine(local_day, RUN_AT, tzinfo=zone), RUN_AT, zone)
    return local_day if now >= run_at else None


def forecast_query(latitude: float, longitude: float, zone_day: ZoneDay) -> dict[str, str]:
    """The ``/v1/forecast`` query for a project's days (local dates: ``timezone`` is the company's)."""
    return {
        "latitude": f"{latitude:.4f}",
        "longitude": f"{longitude:.4f}",
        "daily": ",".join(DAILY_VARIABLES),
        "timezone": zone_day.time_zone,
        "start_date": zone_day.run_date.isoformat(),
        "end_date": zone_day.days[-1].isoformat(),
    }


def read_forecast(body: Any, wanted: list[date]) -> list[DailyWeather]:
    """The days of ``wanted`` found in the answer, each with the values it has (nulls stay None).

    Raises ForecastUnreadable when the answer is not a forecast: an error object, no ``daily``, arrays of
    another length than ``time``, a value of the wrong type, or none of the wanted days."""
    if not isinstance(body, dict):
        raise ForecastUnreadable("the answer is not a JSON object")
    if body.get("error"):
        raise ForecastUnreadable(f"the weather API refused: {str(body.get('reason'))[:200]}")
    daily = body.get("daily")
    if not isinstance(daily, dict) or not isinstance(daily.get("time"), list):
        raise ForecastUnreadable("the answer has no daily forecast")
    days = daily["time"]
    columns = {name: daily.get(name, [None] * len(days)) for name in DAILY_VARIABLES}
    if any(not isinstance(values, list) or len(values) != len(days) for values in columns.values()):
        raise ForecastUnreadable("the daily arrays do not match the days")
    found = []
    for index, text in enumerate(days):
        try:
            day = date.fromisoformat(str(text))
        except ValueError as exc:
            raise ForecastUnreadable(f"not a date: {str(text)[:40]!r}") from exc
        if day not in wanted:
            continue
        values = {name: _number(name, columns[name][index]) for name in DAILY_VARIABLES}
        code = None if values["weather_code"] is None else int(values["weather_code"])
        found.append(
            DailyWeather(
                day=day,
                temperature_max_c=values["temperature_2m_max"],
                temperature_min_c=values["temperature_2m_min"],
                weather_code=code,
                conditions=None if code is None else CONDITIONS.get(code, f"WMO code {code}"),
                precipitation_mm=values["precipitation_sum"],
                wind_max_kmh=values["wind_speed_10m_max"],
                humidity_pct=values["relative_humidity_2m_mean"],
            )
        )
    if not found:
        raise ForecastUnreadable("the answer has none of the days asked for")
    return found


def _number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ForecastUnreadable(f"{name} is not a number: {str(value)[:40]!r}")
    if abs(value) > 10_000:  # beyond any weather; a store's columns carry this range
        raise ForecastUnreadable(f"{name} is out of range: {value}")
    return float(value)
