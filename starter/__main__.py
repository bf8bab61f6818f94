"""``python -m starter <command>``: the dev stack and management commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from keeptime.logs import setup_logging
from keeptime.settings import get_settings
from starter.tasks import add_task_commands

if TYPE_CHECKING:
    from domain.health_types import DatabaseHealthReport


def _dev(_: argparse.Namespace) -> int:
    from starter.stack import run_stack

    return asyncio.run(run_stack(get_settings()))


def _migrate(args: argparse.Namespace) -> int:
    from db.migrate import upgrade

    upgrade(get_settings().require_database_url(), args.revision)
    return 0


def _health_check(_: argparse.Namespace) -> int:
    from keeptime.temporal_client import connect_temporal
    from services.operations import run_database_health_check

    async def _run() -> tuple[str, DatabaseHealthReport]:
        return await run_database_health_check(await connect_temporal(get_settings()), origin="starter")

    workflow_id, report = asyncio.run(_run())
    print(json.dumps({"workflow_id": workflow_id, **report.model_dump(mode="json")}, indent=2))
    return 0 if report.ok else 1


def _run_async(
    command: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        code: int = asyncio.run(command(args))
        return code

    return run


async def _seed(args: argparse.Namespace) -> int:
    from starter.seed import seed_demo

    return await seed_demo(args)


def _sync_schedules(_: argparse.Namespace) -> int:
    from keeptime.temporal_client import connect_temporal
    from services.schedules import configured_jobs, sync_schedules

    async def _run() -> None:
        settings = get_settings()
        report = await sync_schedules(
            await connect_temporal(settings), configured_jobs(settings.job_overrides)
        )
        print(f"schedules: created {report.created}, updated {report.updated}, deleted {report.deleted}")

    asyncio.run(_run())
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m starter", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dev", help="run the whole embedded stack (what `make run` does)").set_defaults(
        run=_dev
    )
    migrate = commands.add_parser("db:migrate", help="apply database migrations (DATABASE_URL)")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(run=_migrate)
    commands.add_parser(
        "health:check", help="run the database health check workflow and print its report"
    ).set_defaults(run=_health_check)
    seed = commands.add_parser(
        "db:seed", help="create a demo data set and start its workflows (stack running)"
    )
    seed.add_argument("--force", action="store_true", help="seed again even if demo businesses exist")
    seed.set_defaults(run=_run_async(_seed))
    add_task_commands(commands, _run_async)
    commands.add_parser(
        "schedules:sync", help="create, update and delete the batch-job schedules to match the code"
    ).set_defaults(run=_sync_schedules)
    args = parser.parse_args()
    setup_logging(get_settings().log_level, "starter", get_settings().log_format)
    code = args.run(args)
    sys.stdout.flush()
    sys.stderr.flush()
    # A Temporal client at interpreter exit sometimes aborts (sdk-python#300): leave without finalizers.
    os._exit(code)


if __name__ == "__main__":
    main()
