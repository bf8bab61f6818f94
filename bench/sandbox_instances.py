"""What creating one workflow instance costs the worker, with and without the shared workflow code.

    .venv/bin/python -m bench.sandbox_instances [--count 1000]

Creates COUNT ``AppointmentWorkflow`` instances through the SDK's ``SandboxedWorkflowRunner`` (as the worker
does for every run it creates or replays: the workflow's module imported afresh), first as the SDK does it
alone, then with ``keeptime.workflow_code`` installed, in the same process, and prints the Python memory
(tracemalloc) and time per instance of each and their ratio. The memory is what each cached workflow keeps
from its creation; the time is measured without tracemalloc.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from keeptime.workflow_code import share_workflow_code
from tests.sandbox_support import sandboxed_instance
from workflows.appointment import AppointmentWorkflow


def per_instance(runner: SandboxedWorkflowRunner, count: int) -> tuple[float, float]:
    """(KiB of Python memory kept, milliseconds) per instance, over ``count`` instances kept alive."""
    began = time.perf_counter()
    timed = [sandboxed_instance(runner, AppointmentWorkflow) for _ in range(count)]
    elapsed_ms = (time.perf_counter() - began) * 1000 / count
    del timed
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [sandboxed_instance(runner, AppointmentWorkflow) for _ in range(count)]
    gc.collect()
    kib = (tracemalloc.get_traced_memory()[0] - before) / 1024 / count
    tracemalloc.stop()
    del kept
    gc.collect()
    return kib, elapsed_ms


async def main(count: int) -> None:
    runner = SandboxedWorkflowRunner()
    sandboxed_instance(runner, AppointmentWorkflow)  # warm: the SDK's own imports
    alone = per_instance(runner, count)
    share_workflow_code()
    shared = per_instance(runner, count)
    print(f"{count} AppointmentWorkflow instances through SandboxedWorkflowRunner, per instance:")
    print(f"  the SDK alone:          {alone[0]:6.1f} KiB kept, {alone[1]:5.2f} ms")
    print(f"  with the shared code:   {shared[0]:6.1f} KiB kept, {shared[1]:5.2f} ms")
    print(f"  shared / alone: memory {shared[0] / alone[0]:.2f}, time {shared[1] / alone[1]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    asyncio.run(main(parser.parse_args().count))
