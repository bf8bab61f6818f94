"""Workflow definitions: deterministic orchestration only (stdlib, temporalio and passed-through types)."""
