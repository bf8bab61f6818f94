"""A business's renewal-call scheduler settings (``GET/PUT /v1/scheduler/config``), validated here.

Defaults are the predecessor's: call 30 days before expiry at 10:00 business time, skip customers called in
the last 7 days, at most 50 calls a day and 5 at once, up to 3 unanswered calls per customer and term.
"""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.limits import Inconsistent, LocalTime


class CallSchedulerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="false pauses every call; workflows keep their state")
    days_before_expiry: int = Field(default=30, ge=1, le=366, description="first call day before the end")
    call_time: LocalTime = Field(default=time(10, 0), description="business-local time calls start")
    last_call_time: LocalTime = Field(
        default=time(18, 0),
        description="no call starts after this business-local time; after call_time (else 422 inconsistent)",
    )
    skip_if_called_within_days: int = Field(
        default=7, ge=0, le=90, description="calendar days after any call (manual included) with no other"
    )
    max_calls_per_day: int = Field(default=50, ge=1, le=100_000)
    max_concurrent_calls: int = Field(default=5, ge=1, le=1_000)
    max_retries_per_customer: int = Field(
        default=3, ge=1, le=20, description="calls per term that end without an answer"
    )
    summary_timeout_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="an answered call without a summary counts as unanswered"
    )
    call_attempts: int = Field(
        default=3, ge=1, le=10, description="tries to reach the voice agent per call (transport failures)"
    )
    call_retry_seconds: int = Field(default=60, ge=1, le=3600, description="pause between those tries")
    busy_retry_seconds: int = Field(
        default=30, ge=1, le=3600, description="wait before retrying when every call slot is taken"
    )

    @model_validator(mode="after")
    def _window(self) -> CallSchedulerConfig:
        if self.last_call_time <= self.call_time:
            raise Inconsistent("last_call_time", "last_call_time must be after call_time")
        return self
