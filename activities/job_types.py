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
    longest_transaction_s: float = 0.0
    details: list[str] = Field(default_factory=list)


class CleanupInput(BaseModel):
    """Input of NotificationLogCleanupWorkflow; cut-offs and progress are carried across continue-as-new."""

    delivered_older_than_days: int = 90
    failed_older_than_days: int = 30
    batch_size: int = 5_000
    batches_per_run: int = 100
    cutoffs: dict[str, str] = Field(
        default_factory=dict, description="status -> ISO cut-off, fixed at the first run"
    )
    phase: int = 0
    after: tuple[str, int] | None = Field(default=None, description="keyset position (updated_at, id)")
    metrics: JobMetrics | None = None


class DeleteBatchInput(BaseModel):
    status: str
    cutoff: str
    after: tuple[str, int] | None = None
    limit: int = 5_000


class DeleteBatchResult(BaseModel):
    deleted: int
    last: tuple[str, int] | None
    done: bool
    seconds: float
