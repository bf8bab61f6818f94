"""``python -m starter <command>``: the dev stack and management commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import TYPE_CHECKING

from keeptime.logs import setup_logging
from keeptime.settings import get_settings

if TYPE_CHECKING:
    from activities.health_types import DatabaseHealthReport


def _dev(_: argparse.Namespace) -> int:
    from starter.stack import run_stack

    return asyncio.run(run_stack(get_settings()))


def _migrate(args: argparse.Namespace) -> int:
    from db.migrate import upgrade

    upgrade(get_settings().require_database_url(), args.revision)
    return 0


def _health_check(_: argparse.Namespace) -> int:
    from keeptime.operations import run_database_health_check
    from keeptime.temporal_client import connect_temporal

    async def _run() -> tuple[str, DatabaseHealthReport]:
        return await run_database_health_check(await connect_temporal(get_settings()), origin="starter")

    workflow_id, report = asyncio.run(_run())
    print(json.dumps({"workflow_id": workflow_id, **report.model_dump(mode="json")}, indent=2))
    return 0 if report.ok else 1


def _reconcile(_: argparse.Namespace) -> int:
    from db.engine import create_engine, create_session_factory
    from keeptime.appointment_service import ReconcileReport, reconcile_appointment_workflows
    from keeptime.temporal_client import connect_temporal

    async def _run() -> ReconcileReport:
        settings = get_settings()
        engine = create_engine(settings.require_database_url(), pool_size=2)
        try:
            return await reconcile_appointment_workflows(
                create_session_factory(engine), await connect_temporal(settings)
            )
        finally:
            await engine.dispose()

    report = asyncio.run(_run())
    print(
        f"checked {report.scanned} active appointment(s), started {len(report.started)} missing workflow(s)"
    )
    return 0


def _sync_schedules(_: argparse.Namespace) -> int:
    from keeptime.schedules import sync_schedules
    from keeptime.temporal_client import connect_temporal

    async def _run() -> None:
        report = await sync_schedules(await connect_temporal(get_settings()))
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
    commands.add_parser(
        "appointments:reconcile", help="start the workflow of every active appointment that has none"
    ).set_defaults(run=_reconcile)
    commands.add_parser(
        "schedules:sync", help="create, update and delete the batch-job schedules to match the code"
    ).set_defaults(run=_sync_schedules)
    args = parser.parse_args()
    setup_logging(get_settings().log_level, "starter")
    code = args.run(args)
    sys.stdout.flush()
    sys.stderr.flush()
    # A Temporal client at interpreter exit sometimes aborts (sdk-python#300): leave without finalizers.
    os._exit(code)


if __name__ == "__main__":
    main()
