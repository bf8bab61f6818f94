"""The workflow modules' code is read once per process and shared by the sandbox's per-run imports, while
each run still gets its own module namespace (keeptime.workflow_code)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from keeptime.workflow_code import SharedCodeFinder, share_workflow_code
from tests.sandbox_support import sandboxed_instance, workflow_class_in
from workflows.appointment import AppointmentWorkflow

MODULE = "tally"


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    """A package ``sharedcode_pkg`` with one module whose state is a module-level list."""
    root = tmp_path / "sharedcode_pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / f"{MODULE}.py").write_text(
        "SEEN: list[int] = []\n\ndef note(n):\n    SEEN.append(n)\n    return SEEN\n"
    )
    sys.path.insert(0, str(tmp_path))
    finder = SharedCodeFinder("sharedcode_pkg")
    sys.meta_path.insert(0, finder)
    try:
        yield root
    finally:
        sys.meta_path.remove(finder)
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith("sharedcode_pkg")]:
            del sys.modules[name]


def fresh_import(name: str) -> object:
    """Import ``name`` as the sandbox does for each run: a new module, not the one already loaded."""
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def test_each_import_gets_its_own_namespace_but_the_same_code(package: Path) -> None:
    first = fresh_import(f"sharedcode_pkg.{MODULE}")
    second = fresh_import(f"sharedcode_pkg.{MODULE}")

    assert first is not second
    assert first.note is not second.note  # type: ignore[attr-defined]
    assert first.note.__code__ is second.note.__code__  # type: ignore[attr-defined]
    assert first.note(1) == [1]  # type: ignore[attr-defined]
    assert second.note(2) == [2]  # type: ignore[attr-defined]  # state is not shared


def test_a_changed_file_is_read_again(package: Path) -> None:
    first = fresh_import(f"sharedcode_pkg.{MODULE}")
    source = package / f"{MODULE}.py"
    source.write_text(source.read_text() + "\nVERSION = 2\n")
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    second = fresh_import(f"sharedcode_pkg.{MODULE}")

    assert second.VERSION == 2  # type: ignore[attr-defined]
    assert first.note.__code__ is not second.note.__code__  # type: ignore[attr-defined]


def test_other_packages_load_as_before() -> None:
    assert SharedCodeFinder("workflows").find_spec("json", None) is None


def test_installing_twice_adds_one_finder() -> None:
    share_workflow_code()
    share_workflow_code()

    assert sum(isinstance(f, SharedCodeFinder) and f.package == "workflows" for f in sys.meta_path) == 1


async def test_the_sandbox_reimports_the_workflow_module_with_shared_code() -> None:
    """Against the SDK itself: every run still gets a fresh AppointmentWorkflow class (the sandbox's state
    isolation), and with the finder installed its methods' code is the one object, not a copy per run."""
    share_workflow_code()
    runner = SandboxedWorkflowRunner()

    first, second = (
        sandboxed_instance(runner, AppointmentWorkflow),
        sandboxed_instance(runner, AppointmentWorkflow),
    )

    first_class, second_class = workflow_class_in(first), workflow_class_in(second)
    assert first_class is not second_class
    assert first_class is not AppointmentWorkflow
    assert first_class.run.__code__ is second_class.run.__code__
