"""Types that cross the Temporal boundary for batch jobs."""

from __future__ import annotations

from datetime import datetime, timedelta

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
    counts: dict[str, int] = Field(
        default_factory=dict, description="a job's own figures, e.g. the weather's created/updated/failed"
    )
    failed_batch: str | None = Field(
        default=None,
        description="the batch that failed every attempt; the run ended there, the next retries it",
    )

    def plus(
        self, scanned: int, changed: int, seconds: float, errors: int = 0, details: list[str] | None = None
    ) -> JobMetrics:
        """These metrics with one more batch counted (the longest transaction is the longest batch)."""
        return self.model_copy(
            update={
                "scanned": self.scanned + scanned,
                "changed": self.changed + changed,
                "errors": self.errors + errors,
                "duration_s": round(self.duration_s + seconds, 3),
                "longest_transaction_s": max(self.longest_transaction_s, seconds),
                "details": (self.details + (details or []))[-50:],
            }
        )

    def failed(self, where: str, error: BaseException) -> JobMetrics:
        """These metrics with the run ended at a batch that failed every attempt (reported, not raised)."""
        cause = getattr(error, "cause", None) or error
        return self.model_copy(
            update={
                "errors": self.errors + 1,
                "failed_batch": f"{where}: {cause}"[:500],
                "details": [*self.details, f"failed: {where}: {cause}"[:500]][-50:],
            }
        )


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

    def fixed(self, now: datetime) -> CleanupInput:
        """This run with its cut-offs fixed at ``now`` (kept when a previous run fixed them)."""
        if self.cutoffs:
            return self
        cutoffs = {
            "delivered": (now - timedelta(days=self.delivered_older_than_days)).isoformat(),
            "failed": (now - timedelta(days=self.failed_older_than_days)).isoformat(),
        }
        return self.model_copy(update={"cutoffs": cutoffs})


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


class BatchJobInput(BaseModel):
    """Input of BatchJobWorkflow: one job of ``services.schedules`` that walks rows in id order.

    ``cutoff`` and ``started`` are fixed at the first run (from ``older_than_days``) and carried with the
    keyset position and the metrics across continue-as-new, so a resumed run uses the same boundary."""

    job: str
    older_than_days: int = 0
    batch_size: int = 1_000
    batches_per_run: int = 100
    points: int = Field(default=5, description="reputation-recovery: points regained per run")
    cap: int = Field(default=100, description="reputation-recovery: the score it never exceeds")
    cutoff: str | None = None
    started: str | None = None
    after: int = 0
    metrics: JobMetrics | None = None

    def fixed(self, now: datetime) -> BatchJobInput:
        """This run with its start and cut-off fixed at ``now`` (kept when a previous run fixed them)."""
        if self.cutoff is not None and self.started is not None:
            return self
        cutoff = now - timedelta(days=self.older_than_days)
        return self.model_copy(update={"started": now.isoformat(), "cutoff": cutoff.isoformat()})

    def batch(self, after: int) -> JobBatchInput:
        """The next batch's input, after the row ``after`` (a ``fixed`` run only)."""
        assert self.cutoff is not None and self.started is not None
        return JobBatchInput(
            job=self.job,
            cutoff=self.cutoff,
            now=self.started,
            after=after,
            limit=self.batch_size,
            points=self.points,
            cap=self.cap,
        )


class JobBatchInput(BaseModel):
    job: str
    cutoff: str
    now: str
    after: int
    limit: int
    points: int = 5
    cap: int = 100


class JobBatchResult(BaseModel):
    scanned: int
    changed: int
    last: int
    done: bool
    seconds: float
    errors: int = 0
    details: list[str] = Field(default_factory=list)


class PlatformStatsInput(BaseModel):
    day: str | None = Field(default=None, description="ISO date; default: the UTC day before the run")


class PlatformStatsResult(BaseModel):
    day: str
    appointments_by_status: dict[str, int]
    new_customers: int
    active_businesses: int
    reviews: int
    average_rating: float | None


class WeeklyPayrollInput(BaseModel):
    """Input of WeeklyPayrollWorkflow; ``at`` is fixed by the workflow (its clock), so a retried activity
    decides the due week with the same instant."""

    at: datetime | None = None
