"""Activities: every piece of I/O (PostgreSQL, providers) that workflows orchestrate."""
