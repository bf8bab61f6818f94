"""A worker process's workflow cache is one budget (WORKER_MAX_CACHED_WORKFLOWS) split among the queues it
polls that run workflows (domain.task_queues.workflow_cache_sizes), so its memory is bounded by one number
however many queues it polls; the reviews queue runs activities only and polls for no workflow tasks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from temporalio.testing import WorkflowEnvironment

from db.engine import SessionFactory
from domain.task_queues import (
    ALL_TASK_QUEUES,
    APPOINTMENTS,
    CALLS,
    MAINTENANCE,
    NOTIFICATIONS,
    REVIEWS,
    WORKFLOW_CACHE_SHARES,
    workflow_cache_sizes,
)
from keeptime.settings import Settings
from tests.support import running_worker


@given(
    budget=st.integers(min_value=0, max_value=100_000),
    queues=st.lists(st.sampled_from(ALL_TASK_QUEUES), min_size=1, unique=True),
)
def test_the_split_adds_up_to_the_budget_in_proportion_to_the_shares(budget: int, queues: list[str]) -> None:
    sizes = workflow_cache_sizes(budget, queues)
    running = [queue for queue in queues if queue in WORKFLOW_CACHE_SHARES]
    assert sorted(sizes) == sorted(running)
    if not running:
        return
    assert sum(sizes.values()) == budget
    total = sum(WORKFLOW_CACHE_SHARES[queue] for queue in running)
    for queue, size in sizes.items():
        assert size >= 0
        assert abs(size - budget * WORKFLOW_CACHE_SHARES[queue] / total) < 1


def test_every_queue_polled_gives_appointments_five_eighths() -> None:
    sizes = workflow_cache_sizes(1000, list(ALL_TASK_QUEUES))
    assert sizes == {APPOINTMENTS: 625, CALLS: 125, MAINTENANCE: 125, NOTIFICATIONS: 125}
    assert workflow_cache_sizes(1000, [APPOINTMENTS]) == {APPOINTMENTS: 1000}
    assert workflow_cache_sizes(1000, [REVIEWS]) == {}


async def test_the_workers_of_one_process_cache_at_most_its_budget(
    dev_env: WorkflowEnvironment, sessions: SessionFactory, settings: Settings
) -> None:
    budget = settings.model_copy(update={"worker_max_cached_workflows": 801})
    # The production Workers, run and shut down (a Worker stays registered with its client until then).
    async with running_worker(dev_env.client, sessions, budget, end_workflows=False) as workers:
        configs = {worker.task_queue: worker.config() for worker in workers}
    assert sorted(configs) == sorted(ALL_TASK_QUEUES)
    cached = {queue: config.get("max_cached_workflows") for queue, config in configs.items()}
    assert cached == {APPOINTMENTS: 501, CALLS: 100, MAINTENANCE: 100, NOTIFICATIONS: 100, REVIEWS: 0}
    assert not configs[REVIEWS].get("workflows")
    assert all(configs[queue].get("workflows") for queue in WORKFLOW_CACHE_SHARES)
