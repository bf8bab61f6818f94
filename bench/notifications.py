"""Send 10,000 notifications through the console and HTTP (Telnyx-shaped) channels under injected failures.

    .venv/bin/python -m bench.notifications [--recipients 10000] [--runs 3]

Half the customers are reached by e-mail through the console provider, half by SMS through a local
Telnyx-shaped peer that fails 10% of requests (503), throttles 2% (429, Retry-After: 1) and loses the
response after accepting 2% (the case only an idempotency key saves: Telnyx honours ``Idempotency-Key``,
Twilio does not). One BroadcastWorkflow per run on the dev server with the real worker. Prints
messages/second per run and their median, and the duplicate count: messages a recipient got twice, raw,
as the peer saw them (must be 0).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from sqlalchemy import func, insert, select, text

from bench.common import bench_database, dev_server, run_bench
from db import notification_queries
from db.engine import SessionFactory, create_engine, create_session_factory
from db.models import Business, Customer, NotificationLog
from domain.notification_types import BroadcastInput
from domain.statuses import NotificationStatus
from domain.task_queues import NOTIFICATIONS
from keeptime.settings import Settings
from tests.peers import FCM_PROJECT, FCM_TOKEN, TELNYX_KEY, Chaos, ProviderPeer
from tests.support import running_worker
from workflows.broadcast import BroadcastWorkflow


async def main(recipients: int, runs: int) -> None:
    peer = ProviderPeer()
    await peer.start()
    async with bench_database("notifications") as url, dev_server() as env:
        settings = Settings(
            database_url=url,
            sms_provider="telnyx",
            telnyx_base_url=peer.base_url,
            telnyx_api_key=TELNYX_KEY,
            telnyx_from_number="+15005550006",
            fcm_base_url=peer.base_url,
            fcm_project_id=FCM_PROJECT,
            fcm_access_token=FCM_TOKEN,
            sms_rate_per_s=100_000,
            worker_activity_slots=10,
        )
        engine = create_engine(url, pool_size=60)
        sessions = create_session_factory(engine)
        rates: list[float] = []
        async with running_worker(env.client, sessions, settings):
            for run in range(runs):
                peer.reset()
                peer.chaos = None if os.environ.get("NO_CHAOS") else Chaos(0.10, 0.02, 0.02)
                business_id = await _seed(sessions, recipients, run)
                async with sessions() as session:
                    broadcast = await notification_queries.create_broadcast(
                        session, business_id, "Bench", "Hello", None
                    )
                started = time.perf_counter()
                status = await env.client.execute_workflow(
                    BroadcastWorkflow.run,
                    BroadcastInput(broadcast_id=broadcast.id, business_id=business_id, batch_size=200),
                    id=f"bench-broadcast-{broadcast.id}",
                    task_queue=NOTIFICATIONS,
                )
                elapsed = time.perf_counter() - started
                sms_keys = [entry["json"]["to"] for entry in peer.accepted["sms"]]  # one SMS each
                duplicates = len(sms_keys) - len(set(sms_keys))
                async with sessions() as session:
                    sent_rows = (
                        await session.execute(
                            select(func.count())
                            .select_from(NotificationLog)
                            .where(
                                NotificationLog.entity_id == broadcast.id,
                                NotificationLog.status == NotificationStatus.SENT,
                            )
                        )
                    ).scalar_one()
                rate = status.progress.sent / elapsed
                rates.append(rate)
                sms = len(set(sms_keys))
                print(
                    f"run {run + 1}: {status.progress.sent} sent ({sms} SMS, {sent_rows - sms} console mail; "
                    f"{sent_rows} log rows) in {elapsed:.1f} s = {rate:.0f} messages/s; "
                    f"{peer.requests['sms']} SMS requests, {peer.replayed} answered from the provider's "
                    f"idempotency record; duplicates {duplicates}",
                    flush=True,
                )
                assert duplicates == 0 and status.progress.sent == recipients
        await engine.dispose()
    await peer.stop()
    print(f"median {statistics.median(rates):.0f} messages/s over {runs} runs of {recipients}; duplicates 0")


async def _seed(sessions: SessionFactory, recipients: int, run: int) -> int:
    async with sessions() as session:
        business = Business(name=f"Bench {run}", time_zone="Europe/Berlin")
        session.add(business)
        await session.flush()
        rows = [
            {
                "business_id": business.id,
                "name": f"Customer {n}",
                "email": f"c{n}@bench.example" if n % 2 else None,  # odd: e-mail (console)
                "phone": f"+4915{n:09d}" if n % 2 == 0 else None,  # even: SMS (HTTP peer)
                "channel_order": ["sms", "email"],
                "sms_opted_in": True,
            }
            for n in range(recipients)
        ]
        await session.execute(insert(Customer), rows)
        await session.execute(text("ANALYZE customers"))
        await session.commit()
        return business.id


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    run_bench(main(args.recipients, args.runs))
    os._exit(0)
