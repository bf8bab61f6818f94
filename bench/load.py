"""On time under load (issue 15's baseline): a burst of reminders due at one instant, or a steady rate.

    .venv/bin/python -m bench.load burst [--count 1000] [--workers 1] [--sticky-timeout 3]
    .venv/bin/python -m bench.load steady --rate 20 [--duration 60] [--workers 1] [--sticky-timeout 3]

Uncapped peers (SMS via a Telnyx-shaped peer, push, e-mail over SMTP; rate limits set far above the load),
the Temporal dev server on a file and the embedded PostgreSQL, all on this box. Prints delivered / missing /
raw duplicates, due -> accepted by the provider p50 / p99 / max, and the phases from each reminder's history
(due -> timer fired -> send scheduled -> started -> completed). Same engine as bench.recovery, no kill.
"""

from __future__ import annotations

import argparse
import asyncio

from bench.recovery import report, run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    shape = parser.add_subparsers(dest="shape", required=True)
    burst = shape.add_parser("burst", help="COUNT reminders due at one instant")
    burst.add_argument("--count", type=int, default=1000)
    steady = shape.add_parser("steady", help="RATE reminders a second for DURATION seconds")
    steady.add_argument("--rate", type=float, default=20.0)
    steady.add_argument("--duration", type=float, default=60.0)
    for sub in (burst, steady):
        sub.add_argument("--workers", type=int, default=1)
        sub.add_argument("--sticky-timeout", type=float, default=3.0, help="WORKER_STICKY_TIMEOUT_S")
    options = parser.parse_args()
    if options.shape == "burst":
        count, spread = options.count, 0.0
    else:
        count, spread = round(options.rate * options.duration), options.duration
    report(asyncio.run(run(count, spread, options.workers, options.sticky_timeout, kill=False)))


if __name__ == "__main__":
    main()
