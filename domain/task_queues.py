"""Task queue names: the one place they are spelled."""

from collections.abc import Sequence
from typing import Final

APPOINTMENTS: Final = "keeptime-appointments"
NOTIFICATIONS: Final = "keeptime-notifications"
REVIEWS: Final = "keeptime-reviews"
CALLS: Final = "keeptime-calls"
MAINTENANCE: Final = "keeptime-maintenance"

ALL_TASK_QUEUES: Final = (APPOINTMENTS, NOTIFICATIONS, REVIEWS, CALLS, MAINTENANCE)

# The queues whose tasks run workflows (the reviews queue runs activities only), each with its share of a
# worker process's workflow cache (WORKER_MAX_CACHED_WORKFLOWS is the process's, not each queue's: the
# memory is the process's). Appointments are the many entities whose steps cluster on the hour; policies,
# vaccinations and invoices step on business days; the notifications queue's workflows are short broadcasts.
WORKFLOW_CACHE_SHARES: Final = {APPOINTMENTS: 5, CALLS: 1, MAINTENANCE: 1, NOTIFICATIONS: 1}


def workflow_cache_sizes(budget: int, queues: Sequence[str]) -> dict[str, int]:
    """How many workflows the Worker of each polled queue that runs workflows may cache: ``budget`` split
    by ``WORKFLOW_CACHE_SHARES`` among them, adding up to ``budget`` (the remainder to the largest shares).
    Queues that run no workflows are absent; none of them: empty."""
    shares = {queue: WORKFLOW_CACHE_SHARES[queue] for queue in queues if queue in WORKFLOW_CACHE_SHARES}
    total = sum(shares.values())
    if total == 0:
        return {}
    sizes = {queue: budget * share // total for queue, share in shares.items()}
    by_share = sorted(shares, key=lambda queue: -shares[queue])
    for queue in by_share[: budget - sum(sizes.values())]:
        sizes[queue] += 1
    return sizes
