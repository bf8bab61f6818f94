"""The API fuzz run with a business's key over every operation outside the booking side
(``tests/test_api_fuzz.py`` says what it checks): a file of its own, so pytest-xdist runs it beside the
others."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_api_fuzz import BOOKING_PATHS, Client, fuzz_as


@pytest.mark.e2e
async def test_fuzzing_the_other_operations_as_a_business_finds_no_server_error_and_no_contract_breach(
    api: Client, tmp_path: Path
) -> None:
    await fuzz_as(api, tmp_path, "business", ("exclude", BOOKING_PATHS))
