"""Independent queries of one answer run side by side, each on its own database connection.

The summary asks four independent questions (two periods, top items, errors), and a long
percentile series is fetched in parts (runner.query_parts); on a machine with several cores
PostgreSQL answers them in parallel. Inside a transaction the calling
connection may hold uncommitted rows other connections cannot see, so there (tests, or a
caller's atomic block) they run one after another instead.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connection, connections

# Long-lived threads keep their connections between requests.
_pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="metrics-query")
MAX_TASKS = 4  # run side by side: the pool's threads and the calling one


def _on_own_connection(task: Callable[[], Any]) -> Any:
    # A connection left broken by a database restart is replaced before use.
    for conn in connections.all(initialized_only=True):
        conn.close_if_unusable_or_obsolete()
    return task()


def run_all(tasks: list[Callable[[], Any]]) -> list[Any]:
    if connection.in_atomic_block or len(tasks) < 2:
        return [task() for task in tasks]
    futures = [_pool.submit(_on_own_connection, task) for task in tasks[1:]]
    first = tasks[0]()  # the calling thread works too
    return [first, *(future.result() for future in futures)]


def close_connections() -> None:
    """Closes every pool thread's connection (tests call it before their database is dropped)."""
    import threading

    workers = _pool._max_workers
    barrier = threading.Barrier(workers, timeout=10)

    def close() -> None:
        connections.close_all()
        barrier.wait()

    for future in [_pool.submit(close) for _ in range(workers)]:
        future.result()
