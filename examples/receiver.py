"""An example of the business's side: a small web app that receives Keeptime's webhooks.

    python examples/receiver.py --secret whsec_... [--port 9000] [--db receiver.sqlite]

It checks each delivery's signature and age (``keeptime_client.verify``), acts on each event once (the event
id is the primary key of the table it records events in, in the same transaction as what it does), and
answers 2xx so Keeptime stops retrying. A duplicate delivery (a retry whose answer was lost, a replay) is
answered 204 too, and changes nothing. ``GET /processed`` lists what it acted on;
tests/test_example_receiver.py runs it against the real stack.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
from pathlib import Path

import keeptime_client
from aiohttp import web

SECRET = web.AppKey("secret", str)
DB = web.AppKey("db", sqlite3.Connection)


def create_app(secret: str, db_path: Path) -> web.Application:
    app = web.Application()
    app[SECRET] = secret
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute(
        "CREATE TABLE IF NOT EXISTS processed (event_id TEXT PRIMARY KEY, type TEXT, entity TEXT, data TEXT)"
    )
    db.execute("CREATE TABLE IF NOT EXISTS duplicates (event_id TEXT)")
    app[DB] = db
    app.router.add_post("/keeptime", receive)
    app.router.add_get("/processed", processed)
    return app


async def receive(request: web.Request) -> web.Response:
    body = await request.read()  # the raw bytes: they are what Keeptime signed
    try:
        event = keeptime_client.verify(request.app[SECRET], request.headers, body)
    except keeptime_client.WebhookVerificationError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    db = request.app[DB]
    db.execute("BEGIN")
    taken = db.execute(
        "INSERT OR IGNORE INTO processed VALUES (?, ?, ?, ?)",
        (event["id"], event["type"], event["entity"], json.dumps(event["data"])),
    ).rowcount
    if taken:
        act_on(event)  # your own change goes here, in this transaction
    else:
        db.execute("INSERT INTO duplicates VALUES (?)", (event["id"],))
    db.execute("COMMIT")
    return web.Response(status=204)


def act_on(event: keeptime_client.Event) -> None:
    if event["type"] == "fee.applied":
        print(
            f"charge {event['data']['amount_cents']} cents for appointment {event['data']['appointment_id']}"
        )
    else:
        print(event["type"], event["entity"], flush=True)


async def processed(request: web.Request) -> web.Response:
    db = request.app[DB]
    rows = db.execute("SELECT event_id, type, entity FROM processed ORDER BY rowid").fetchall()
    duplicates = [row[0] for row in db.execute("SELECT event_id FROM duplicates ORDER BY rowid")]
    return web.json_response(
        {"processed": [{"id": i, "type": t, "entity": e} for i, t, e in rows], "duplicates": duplicates}
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--secret", default=os.environ.get("KEEPTIME_WEBHOOK_SECRET"), required=False)
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--db", type=Path, default=Path("receiver.sqlite"))
    args = parser.parse_args()
    if not args.secret:
        parser.error("--secret (or KEEPTIME_WEBHOOK_SECRET): the endpoint's whsec_ secret")
    web.run_app(create_app(args.secret, args.db), host=args.host, port=args.port, print=None)
