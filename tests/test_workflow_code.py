"""The workflow modules' code is read once per process and shared by the sandbox's per-run imports, while
each run still gets its own module namespace (keeptime.workflow_code)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import temporalio.converter
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.worker import WorkflowInstance
from temporalio.worker._workflow_instance import WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _fake_info
from temporalio.workflow import _Definition

from keeptime.workflow_code import SharedCodeFinder, share_workflow_code
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


def sandboxed_instance(runner: SandboxedWorkflowRunner) -> WorkflowInstance:
    """What the worker does for each workflow run it creates or replays (fake info, as the SDK's own
    validation at worker start does)."""
    converter = temporalio.converter.DataConverter.default
    return runner.create_instance(
        WorkflowInstanceDetails(
            payload_converter_factory=converter._new_payload_converter,
            failure_converter_class=converter.failure_converter_class,
            interceptor_classes=[],
            defn=_Definition.must_from_class(AppointmentWorkflow),
            info=_fake_info,
            randomness_seed=-1,
            extern_functions={},
            disable_eager_activity_execution=False,
            worker_level_failure_exception_types=[],
            patch_activation_callback=None,
            last_completion_result=Payloads(),
            last_failure=Failure(),
        )
    )


def workflow_class_in(instance: WorkflowInstance) -> type[AppointmentWorkflow]:
    return instance.globals_and_locals["__temporal_workflow_class"]  # type: ignore[attr-defined, no-any-return]


async def test_the_sandbox_reimports_the_workflow_module_with_shared_code() -> None:
    """Against the SDK itself: every run still gets a fresh AppointmentWorkflow class (the sandbox's state
    isolation), and with the finder installed its methods' code is the one object, not a copy per run."""
    share_workflow_code()
    runner = SandboxedWorkflowRunner()

    first, second = sandboxed_instance(runner), sandboxed_instance(runner)

    first_class, second_class = workflow_class_in(first), workflow_class_in(second)
    assert first_class is not second_class
    assert first_class is not AppointmentWorkflow
    assert first_class.run.__code__ is second_class.run.__code__
