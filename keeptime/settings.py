"""One typed settings object, read from the environment (see the README's configuration table)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.task_queues import ALL_TASK_QUEUES

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
TraceExporter = Literal["none", "console", "otlp"]


class JobOverride(BaseModel):
    """A deployment's change to one declared batch job (``JOB_OVERRIDES``, JSON keyed by job name)."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = None
    time_zone: str | None = None
    arg: dict[str, Any] = Field(
        default_factory=dict, description="fields of the job's input, e.g. older_than_days"
    )


DATABASE_URL_FILE = "database_url"  # in KEEPTIME_DATA_DIR while `make run` serves the embedded PostgreSQL


# The secrets' development values are published (here and in the README); the example manifest's placeholder
# and the old shared default are too. Outside the development mode a process refuses every one of them.
DEV_SECRETS = {
    "admin_api_key": "dev-admin-key",
    "push_receipt_secret": "dev-push-receipt-secret",
    "unsubscribe_secret": "dev-unsubscribe-secret",
    "cursor_secret": "dev-cursor-secret",
}
PUBLISHED_SECRETS = frozenset(
    {*DEV_SECRETS.values(), "dev-webhook-secret", "change-me", "changeme", "secret", "password", "example"}
)
# RFC 2104 section 3: an HMAC key shorter than the hash output (32 bytes for SHA-256) weakens it; 32
# characters of `openssl rand -hex 32`'s 64 already carry 128 bits.
MIN_SECRET_CHARS = 32
LOOPBACK_HOSTS = frozenset({"localhost", "::1", "[::1]"})


AmbiguityPolicy = Literal["prefer_duplicate", "prefer_missing"]


def _default_ambiguity_policy() -> dict[str, AmbiguityPolicy]:
    """By message category: a reminder twice beats none; an announcement twice is worse than none."""
    return {
        "transactional": "prefer_duplicate",
        "reminders": "prefer_duplicate",
        "review_requests": "prefer_missing",
        "announcements": "prefer_missing",
    }


class Settings(BaseSettings):
    """Every knob Keeptime reads. Field ``foo_bar`` is set by the environment variable ``FOO_BAR``."""

    # env_ignore_empty: an empty variable (docker-compose's `${TWILIO_AUTH_TOKEN:-}`) means "not set".
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, env_ignore_empty=True
    )

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    # Temporal Cloud or a server with mTLS: an API key, or a client certificate and key (PEM files); TLS is
    # on when either is set or TEMPORAL_TLS=true (a server CA file only for a private CA).
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    temporal_tls_client_cert: Path | None = None
    temporal_tls_client_key: Path | None = None
    temporal_tls_server_ca: Path | None = None
    embedded_temporal: bool = True
    worker_task_queues: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(ALL_TASK_QUEUES))
    database_url: str | None = None
    worker_activity_slots: int = Field(default=10, ge=1, le=200)
    # Concurrent workflow tasks per queue. A timer fires late by the run time of the task that set it (the
    # delay is computed from the task's start), and on a saturated process that run time grows with this: 5
    # halved p99 lateness at a steady 20/s and drained a 1,000 burst about 1.15x slower (README: Load).
    worker_workflow_task_slots: int = Field(default=20, ge=2, le=500)
    # One worker process's PostgreSQL pool (all its queues share it). The connection budget: API replicas x
    # API_DB_POOL_SIZE + worker processes x WORKER_DB_POOL_SIZE + 2 (jobs) must stay under the server's
    # max_connections (100 by default, 3 of them reserved for superusers).
    worker_db_pool_size: int = Field(default=25, ge=2, le=500)
    # `make run` starts this many worker processes (one Python process uses at most about one core).
    worker_processes: int = Field(default=2, ge=1, le=16)
    # A worker's Prometheus endpoint (the Temporal SDK's metrics and Keeptime's own): http://host:port/metrics.
    # Unset: none. `make run` gives its workers 9464, 9465, ...
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    # How long a workflow task waits on the sticky queue of the worker that cached the workflow before any
    # worker may take it (and replay): how soon a dead worker's workflows move on (SDK default 10 s).
    worker_sticky_timeout_s: float = Field(default=3.0, ge=1, le=60)
    # Workflows one worker process keeps in memory, split among its queues that run workflows by their
    # shares (domain.task_queues; the SDK's max_cached_workflows is per Worker, one Worker per queue): a
    # cached one handles its next task at once, an evicted one is replayed from its history first (CPU).
    # Memory grows with it, ~150-200 KB each (bench/sleepers.py prints the worker's RSS); 0 caches none.
    worker_max_cached_workflows: int = Field(default=1000, ge=0, le=100_000)
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_db_pool_size: int = 10
    admin_api_key: SecretStr = SecretStr(DEV_SECRETS["admin_api_key"])
    keeptime_data_dir: Path = Path(".keeptime")
    log_level: LogLevel = "INFO"
    # json: one JSON object a line (python-json-logger) with workflow, run, activity, tenant and request ids.
    log_format: Literal["text", "json"] = "text"
    otel_traces_exporter: TraceExporter = "none"
    otel_service_name: str = "keeptime"

    # Notifications. A channel whose provider is not configured is delivered by the console provider.
    public_base_url: str = "http://localhost:8080"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_use_tls: bool = False
    smtp_sender: str = "Keeptime <no-reply@keeptime.local>"
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    sms_provider: Literal["twilio", "telnyx"] = Field(
        default="twilio", description="telnyx honours Idempotency-Key: an ambiguous SMS is resent safely"
    )
    telnyx_base_url: str = "https://api.telnyx.com"
    telnyx_api_key: SecretStr | None = None
    telnyx_from_number: str | None = None
    # An attempt whose outcome is unknown (sent, no answer) on a provider without an idempotency key: wait
    # this long for its receipt, then the category's policy decides (prefer_duplicate: resend;
    # prefer_missing: do not).
    ambiguous_wait_s: float = Field(default=120.0, ge=0, le=3600)
    ambiguous_policy: dict[str, AmbiguityPolicy] = Field(default_factory=_default_ambiguity_policy)
    fcm_base_url: str = "https://fcm.googleapis.com"
    fcm_project_id: str | None = None
    fcm_access_token: SecretStr | None = None
    # One key per purpose (a leak of one forges nothing else); outside the development mode each must be set
    # to a value of its own (see _refuse_published_secrets).
    push_receipt_secret: SecretStr = SecretStr(DEV_SECRETS["push_receipt_secret"])
    unsubscribe_secret: SecretStr = SecretStr(DEV_SECRETS["unsubscribe_secret"])
    # The event feed's cursors are signed with it: a cursor altered by hand is refused (422), not followed.
    cursor_secret: SecretStr = SecretStr(DEV_SECRETS["cursor_secret"])
    # Webhook endpoints on http:// and on loopback or private addresses (development, the tests). Unset: on in
    # the development mode only; a deployment delivers to public https:// URLs alone (docs/webhooks.md).
    webhooks_allow_private: bool | None = None
    # How long the unsubscribe link of an e-mail works (domain.unsubscribe); a person with an older e-mail
    # uses a newer one's link.
    unsubscribe_link_days: int = Field(default=60, ge=1, le=366)
    job_overrides: dict[str, JobOverride] = Field(default_factory=dict)
    voice_agent_url: str | None = None
    voice_agent_token: SecretStr | None = None
    voice_agent_timeout_s: float = 20.0
    # One provider call's limit. A send activity's attempt (2 min, ending itself 5 s early) may first outlast
    # a previous attempt (this + 1 s) and then make its own call (this): so at most 50 s.
    provider_timeout_s: float = Field(default=10.0, gt=0, le=50)
    # A provider that replays a key's response (Telnyx) has a record only once its first request's response
    # exists ("Only successful responses are replayed"); it documents nothing on a second request with the
    # key while the first is still being processed, and our client gives up on the first after
    # provider_timeout_s while the provider may go on with it. A resend with the key therefore waits this
    # long after the attempt began (at least the timeout and a second). With the call itself it fits the
    # attempt's 115 s: 60 + 50.
    keyed_resend_after_s: float = Field(default=45.0, ge=0, le=60)
    # Construction weather: an Open-Meteo-compatible /v1/forecast (https://open-meteo.com/en/docs); the
    # public service needs no key for non-commercial use; a commercial plan or a self-hosted instance
    # (open-meteo/open-meteo's Docker image) is another base URL.
    weather_api_url: str = "https://api.open-meteo.com"
    weather_timeout_s: float = Field(default=10.0, gt=0, le=60)
    email_rate_per_s: float = 20.0
    sms_rate_per_s: float = 10.0
    push_rate_per_s: float = 100.0

    @field_validator("worker_task_queues", mode="before")
    @classmethod
    def _split_queues(cls, value: object) -> object:
        items = [item.strip() for item in value.split(",")] if isinstance(value, str) else value
        if isinstance(items, list):  # short names are fine: "appointments" means "keeptime-appointments"
            return [
                f"keeptime-{item}" if item and not item.startswith("keeptime-") else item
                for item in items
                if item
            ]
        return value

    @field_validator("worker_task_queues")
    @classmethod
    def _known_queues(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ALL_TASK_QUEUES))
        if unknown:
            raise ValueError(f"unknown task queue(s) {unknown}; known: {list(ALL_TASK_QUEUES)}")
        if not value:
            raise ValueError("at least one task queue is required")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        return to_asyncpg_url(value) if value else None

    @model_validator(mode="after")
    def _public_url_follows_the_api(self) -> Settings:
        """Links and provider callbacks point at this API unless PUBLIC_BASE_URL says otherwise."""
        if "public_base_url" not in self.model_fields_set:
            host = "localhost" if self.api_host in ("127.0.0.1", "0.0.0.0", "::") else self.api_host
            self.public_base_url = f"http://{host}:{self.api_port}"
        return self

    @property
    def development_mode(self) -> bool:
        """The laptop set-up: the embedded Temporal dev server on this machine. A process that talks to any
        other Temporal is a deployment, whatever else is set."""
        host = (
            self.temporal_address.rsplit(":", 1)[0] if ":" in self.temporal_address else self.temporal_address
        )
        return self.embedded_temporal and (host in LOOPBACK_HOSTS or host.startswith("127."))

    @property
    def webhooks_private_targets(self) -> bool:
        """Whether webhook endpoints may be http:// or on loopback/private addresses."""
        if self.webhooks_allow_private is not None:
            return self.webhooks_allow_private
        return self.development_mode

    @model_validator(mode="after")
    def _refuse_published_secrets(self) -> Settings:
        """Outside the development mode, refuse to start with a published, short or shared secret, or with
        links that are not HTTPS (RFC 8058 section 3.1: the one-click List-Unsubscribe URI MUST be HTTPS)."""
        if self.development_mode:
            return self
        problems = []
        values: dict[str, str] = {}
        for name in DEV_SECRETS:
            value = getattr(self, name).get_secret_value()
            if value.strip().lower() in PUBLISHED_SECRETS:
                problems.append(f"{name.upper()} is a published development or example value")
            elif len(value) < MIN_SECRET_CHARS:
                problems.append(f"{name.upper()} has fewer than {MIN_SECRET_CHARS} characters")
            values.setdefault(value, name)
            if values[value] != name:
                problems.append(f"{name.upper()} is the same as {values[value].upper()}: one key per purpose")
        if not self.public_base_url.lower().startswith("https://"):
            problems.append("PUBLIC_BASE_URL must be an https:// URL (links in messages, provider callbacks)")
        if problems:
            raise ValueError(
                "outside the development mode (EMBEDDED_TEMPORAL=true, a local Temporal) Keeptime refuses to "
                "start: " + "; ".join(problems) + ". Generate each secret with `openssl rand -hex 32` "
                "(WEBHOOK_SECRET is now PUSH_RECEIPT_SECRET and UNSUBSCRIBE_SECRET)"
            )
        return self

    @model_validator(mode="after")
    def _client_certificate_with_its_key(self) -> Settings:
        if (self.temporal_tls_client_cert is None) != (self.temporal_tls_client_key is None):
            raise ValueError("TEMPORAL_TLS_CLIENT_CERT and TEMPORAL_TLS_CLIENT_KEY go together")
        return self

    @property
    def temporal_port(self) -> int:
        return int(self.temporal_address.rsplit(":", 1)[1]) if ":" in self.temporal_address else 7233

    def require_database_url(self) -> str:
        """The database URL; else the running embedded stack's (``make run`` writes it into the data dir)."""
        if self.database_url:
            return self.database_url
        running = self.keeptime_data_dir / DATABASE_URL_FILE
        if running.is_file():
            return to_asyncpg_url(running.read_text().strip())
        raise RuntimeError(
            "DATABASE_URL is not set and no embedded stack is running: start `make run` or set DATABASE_URL"
        )


def to_asyncpg_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs (as tools print them) and use the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
