"""Workflow instances made the way the worker makes them: through the SDK's sandboxed runner, which
re-imports the workflow's module for every run (tests/test_workflow_code.py, bench/sandbox_instances.py)."""

from __future__ import annotations

from typing import Any

import temporalio.converter
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.worker import WorkflowInstance
from temporalio.worker._workflow_instance import WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _fake_info
from temporalio.workflow import _Definition


def sandboxed_instance(runner: SandboxedWorkflowRunner, workflow: type) -> WorkflowInstance:
    """One run's instance of ``workflow`` (fake info, as the SDK's own validation at worker start does).
    Needs a running event loop."""
    converter = temporalio.converter.DataConverter.default
    return runner.create_instance(
        WorkflowInstanceDetails(
            payload_converter_factory=converter._new_payload_converter,
            failure_converter_class=converter.failure_converter_class,
            interceptor_classes=[],
            defn=_Definition.must_from_class(workflow),
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


def workflow_class_in(instance: WorkflowInstance) -> Any:
    """The workflow class this run's sandbox imported (a fresh class per run)."""
    return instance.globals_and_locals["__temporal_workflow_class"]  # type: ignore[attr-defined]
