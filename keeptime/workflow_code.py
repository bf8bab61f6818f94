"""One copy of the workflow modules' code per process, shared by every sandboxed import of them.

The Temporal Python sandbox imports a workflow's module afresh for every workflow run it creates or replays
("Workflow modules are intentionally reloaded to isolate their state": ``temporalio.worker.workflow_sandbox.
_importer``), and each of those imports asks the module's loader for its code: read the ``.pyc`` and
unmarshal it, or compile the source when there is none (Docker images and this project's machines set
``PYTHONDONTWRITEBYTECODE``). A code object is immutable, so one per file version can serve them all: each
import still executes it in a fresh module namespace, inside the sandbox and under its restrictions, so the
isolation the sandbox promises is unchanged; only the unmarshalled bytecode is no longer copied. Measured
with tracemalloc in a worker holding ~1,000 cached appointment workflows, those copies were 52 MB, 40% of
its Python heap growth (README: Load).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import CodeType, ModuleType

WORKFLOW_PACKAGE = "workflows"

_codes: dict[tuple[str, int, int], CodeType] = {}


class SharedCodeLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose code is read once per file version (path, mtime, size) and then shared."""

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        status = os.stat(path)
        key = (path, status.st_mtime_ns, status.st_size)
        code = _codes.get(key)
        if code is None:
            code = super().get_code(fullname)
            if code is None:  # pragma: no cover - a source loader always returns code
                raise ImportError(f"no code for {fullname}", name=fullname)
            _codes[key] = code
        return code


class SharedCodeFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of one package as the path finder does, then loads them with SharedCodeLoader."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.package and not fullname.startswith(self.package + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader:
            return spec
        spec.loader = SharedCodeLoader(spec.loader.name, spec.loader.path)
        return spec


def share_workflow_code(package: str = WORKFLOW_PACKAGE) -> None:
    """Install the finder for ``package`` first on ``sys.meta_path`` (once per process)."""
    if not any(isinstance(f, SharedCodeFinder) and f.package == package for f in sys.meta_path):
        sys.meta_path.insert(0, SharedCodeFinder(package))
