"""A schemathesis check for the fuzz run (loaded by path through ``SCHEMATHESIS_HOOKS``): schema-valid
requests are accepted, as schemathesis's own ``positive_data_acceptance`` asks, with one exception the
API documents: a 422 whose ``error`` is ``inconsistent``, a rule JSON Schema cannot state (an end before
its start, a call in the past, a template that does not render; ``api.errors.inconsistent_error``).

Any other 422 to schema-valid data, the whole floats, undeclared limits, unknown ids and missing bodies of
issue 32's defect 13 among them, fails the run: the document and the validation disagree."""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

# schemathesis's POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES (config/_checks.py): 2xx, 3xx, 401, 403,
# 404, 409, 429, 5xx (5xx is not_a_server_error's to judge).
ACCEPTED = {401, 403, 404, 409, 429}


@schemathesis.check
def positive_data_accepted_or_inconsistent(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or is_unexpected_http_status_case(case):
        return None
    status = response.status_code
    if status < 400 or status >= 500 or status in ACCEPTED:
        return None
    code = None
    if status == 422:
        try:
            code = json.loads(response.text).get("error")
        except (ValueError, AttributeError):
            code = None
        if code == "inconsistent":
            return None
    raise AssertionError(
        f"a schema-valid request was refused with {status} ({code or 'no error code'}): "
        f"declare the rule in the document, or answer 422 inconsistent if no schema can state it"
        f"\n{response.text[:500]}"
    )
