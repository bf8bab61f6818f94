"""A create that a caller may repeat (same key, same body: the first row answers; another body: a conflict).

The repeat is compared with the body that created the row, never with the row as it is now: an invoice the
workflow has since marked overdue, a touch-up whose priority was changed, a staff user whose roles were
sorted, are all still "the same request" when its body comes again. ``created_from`` holds the body's hash
(the one ``Idempotency-Key`` claims use)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from db.idempotency import request_hash

_CREATE = "create"


def body_digest(values: Mapping[str, Any]) -> str:
    return request_hash(_CREATE, dict(values))


def same_request(created_from: str | None, values: Mapping[str, Any], *, unchanged: bool) -> bool:
    """Whether ``values`` is the body that created a row (``created_from`` its digest). A row from before
    digests were kept (None) falls back to ``unchanged``: the caller's comparison of fields nothing moves."""
    return created_from == body_digest(values) if created_from is not None else unchanged
