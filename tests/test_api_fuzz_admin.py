"""The API fuzz run with the admin key (``tests/test_api_fuzz.py`` says what it checks): a file of its own,
so pytest-xdist runs it beside the business key's run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_api_fuzz import Client, fuzz_as


@pytest.mark.e2e
async def test_fuzzing_every_operation_as_the_admin_finds_no_server_error_and_no_contract_breach(
    api: Client, tmp_path: Path
) -> None:
    await fuzz_as(api, tmp_path, "admin")
