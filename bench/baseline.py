"""A baseline to compare with in the same run: a temporary checkout of another git revision."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.stack_processes import ROOT


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """A temporary checkout of ``ref`` whose ``worker.py`` runs with this project's virtualenv."""
    path = Path(tempfile.mkdtemp(prefix="kt-baseline-", dir="/tmp"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref], check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)
