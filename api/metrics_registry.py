"""The API process's Prometheus instruments (``api.metrics`` serves and fills them)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ApiMetrics:
    """One registry per application (tests run many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "keeptime_api_request_duration_seconds",
            "API request duration by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.entities = Gauge(
            "keeptime_entities",
            "entities by status (open ones have a sleeping workflow)",
            ["entity", "status"],
            registry=self.registry,
        )
        self.backlog = Gauge(
            "keeptime_task_queue_backlog",
            "tasks waiting for a worker",
            ["task_queue", "kind"],
            registry=self.registry,
        )
        self.backlog_age = Gauge(
            "keeptime_task_queue_backlog_age_seconds",
            "age of the oldest task waiting for a worker",
            ["task_queue", "kind"],
            registry=self.registry,
        )
        self.database = Counter(
            "keeptime_db_operations",
            "the API's database work: SQL statements, transactions begun, pool checkouts",
            ["kind"],
            registry=self.registry,
        )

    def count_database(self, kind: str) -> None:
        self.database.labels(kind=kind).inc()
