"""Types that cross the Temporal boundary for batch jobs."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReconcileInput(BaseModel):
    horizon_days: int = Field(
        default=60, description="appointments starting no earlier than this many days ago"
    )


class JobMetrics(BaseModel):
    """What every job returns (and the API shows as a run's result), like the predecessors' result dicts."""

    job: str
    scanned: int = 0
    changed: int = 0
    errors: int = 0
    duration_s: float = 0.0
    details: list[str] = Field(default_factory=list)
