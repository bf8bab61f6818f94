"""Management commands: ``python -m starter <command>`` (the dev stack, migrations, health check, ...)."""
