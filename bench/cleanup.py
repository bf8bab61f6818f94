"""Notification-log cleanup over 1,000,000 rows: the batched job vs a one-row-at-a-time ORM loop.

    .venv/bin/python -m bench.cleanup [--rows 1000000] [--orm-rows 20000]

Seeds ``rows`` log rows (40% delivered 100 days ago, 20% failed 40 days ago, 40% recent) and runs
NotificationLogCleanupWorkflow (batches of 5,000, the real worker, dev server). Then seeds the same mix again
and deletes ``orm-rows`` of the doomed rows the way the predecessor did: load them through the ORM, delete one
by one, commit at the end. Prints rows/second and the longest single transaction of each, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import time

from sqlalchemy import delete, select, text

from bench.common import bench_database, dev_server, run_bench
from db.engine import SessionFactory, create_engine, create_session_factory
from db.models import Business, NotificationLog
from domain.job_types import CleanupInput
from domain.statuses import NotificationStatus
from domain.task_queues import MAINTENANCE
from keeptime.settings import Settings
from tests.support import running_worker
from workflows.jobs import NotificationLogCleanupWorkflow

_SEED = text(
    """
    INSERT INTO notification_log (idempotency_key, message_key, business_id, recipient,
                                  entity_type, entity_id, event, status, updated_at)
    SELECT :tag || n, :tag || n, :business, 'customer:1', 'appointment', n, 'appointment.reminder_24h',
           CASE WHEN n % 5 < 2 THEN 'delivered' WHEN n % 5 = 2 THEN 'failed' ELSE 'sent' END,
           CASE WHEN n % 5 < 2 THEN now() - interval '100 days' WHEN n % 5 = 2 THEN now() - interval '40 days'
                ELSE now() - interval '1 day' END
      FROM generate_series(1, :rows) AS n
    """
)


async def _seed(sessions: SessionFactory, rows: int, tag: str) -> None:
    async with sessions() as session:
        business = Business(name="Bench", time_zone="UTC")
        session.add(business)
        await session.flush()
        await session.execute(_SEED, {"rows": rows, "business": business.id, "tag": tag})
        await session.commit()
    async with sessions() as session:
        await session.execute(text("ANALYZE notification_log"))
        await session.commit()


async def main(rows: int, orm_rows: int) -> None:
    async with bench_database("cleanup") as url, dev_server() as env:
        engine = create_engine(url, pool_size=10)
        sessions = create_session_factory(engine)
        began = time.perf_counter()
        await _seed(sessions, rows, "a")
        print(f"seeded {rows:,} rows in {time.perf_counter() - began:.1f} s", flush=True)
        async with running_worker(env.client, sessions, Settings(database_url=url)):
            began = time.perf_counter()
            metrics = await env.client.execute_workflow(
                NotificationLogCleanupWorkflow.run, CleanupInput(), id="bench-cleanup", task_queue=MAINTENANCE
            )
            job_s = time.perf_counter() - began
        job_rate = metrics.changed / job_s
        print(
            f"batched job: deleted {metrics.changed:,} rows in {job_s:.1f} s = {job_rate:,.0f} rows/s; "
            f"longest transaction {metrics.longest_transaction_s * 1000:.0f} ms",
            flush=True,
        )
        async with sessions() as session:
            await session.execute(delete(NotificationLog))
            await session.commit()
        await _seed(sessions, rows, "b")
        began = time.perf_counter()
        async with sessions() as session:  # the predecessor: load, delete one by one, one commit at the end
            doomed = (
                await session.scalars(
                    select(NotificationLog)
                    .where(
                        NotificationLog.status.in_([NotificationStatus.DELIVERED, NotificationStatus.FAILED])
                    )
                    .limit(orm_rows)
                )
            ).all()
            for row in doomed:
                await session.delete(row)
                await session.flush()
            await session.commit()
        orm_s = time.perf_counter() - began
        orm_rate = len(doomed) / orm_s
        print(
            f"ORM loop: deleted {len(doomed):,} rows in {orm_s:.1f} s = {orm_rate:,.0f} rows/s; "
            f"longest transaction {orm_s:.1f} s (the whole loop)"
        )
        print(f"ratio: the batched job deletes {job_rate / orm_rate:.0f}x as many rows per second")
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--orm-rows", type=int, default=20_000)
    args = parser.parse_args()
    run_bench(main(args.rows, args.orm_rows))
    os._exit(0)
