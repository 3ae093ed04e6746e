"""Moves the queued spans (llm_rollup_queue) into every rollup, exactly once.

Ingest queues the rollup columns of the spans it stored in the same statement that stores
them, and then asks for a fold (`fold_soon`). In a server process a folder thread
(`start_background_folding`) does it at once, or as soon as a quarter second has passed since
the last fold of the deployment began (`FOLD_PERIOD_SECONDS`), so the request answers right
after its commit and the process's next request is decoded while the database folds; the
thread also folds twice a second on its own, so nothing stays queued longer than that.
Without the thread (tests, management commands) the request folds itself, unpaced. One
folder at a time: the others return at once, and what they queued is taken by the fold in
progress or the next one.

Folding many spans at once is cheaper per span: part of the work is per bucket and key
(merging sketches into rollup rows), not per span. Measured on the 1M benchmark database: ~40
ms a fold plus ~17 µs a span, so 120 µs a span for a fold of one 500-span batch, 30 µs at 5,000
spans (since the statement is prepared, on the 10M database: 30 ms for 500 spans, 110 for
3,500). At 5,000 spans/s the folders folded ~500 spans at a time back to back; paced, they fold
~1,200 every quarter second and the database spent 15-25 % less CPU per ingested span. (Under
saturation folds grow large on their own.)
The storing statement itself no longer touches the rollups, so concurrent batches never
wait on each other's rollup rows.
"""

import logging
import threading
import time
from collections.abc import Collection
from typing import Any

import psycopg
from django.db import DataError, close_old_connections, connection, transaction

from metrics.rollups.identities import ordinal_column
from metrics.rollups.maintenance import SPAN_COLUMNS_FOR_ROLLUPS, fold_sql
from metrics.rollups.measures import IDENTITY_COLUMNS

logger = logging.getLogger(__name__)

QUEUE = "llm_rollup_queue"
FOLD_CLOCK = "llm_rollup_fold_clock"
FOLD_SOURCE = "fold_source"
FOLD_LOCK = 7_362_104  # pg advisory lock key: "one folder at a time"
BACKGROUND_INTERVAL_SECONDS = 0.5
BUSY_RETRY_SECONDS = 0.05
# Background folds start at most this often, deployment-wide (migration 0016 says why): a
# fold costs 25-50 ms whatever its size (bench/README; ~12 ms less since its statement is
# prepared), so fewer, larger folds cost less per span.
FOLD_PERIOD_SECONDS = 0.25
# Every fold deletes the whole queue: under steady ingest that is tens of thousands of dead
# rows a second, more than autovacuum's once-a-minute visits keep up with, and every DELETE
# and emptiness check scans them. A thread of each server process vacuums the queue this often.
VACUUM_INTERVAL_SECONDS = 5.0
FOLD_LOCK_TIMEOUT_MS = 200
# An organization whose spans a fold could not take has them retried alone this often, while
# everyone else's are folded together as usual (see fold_quietly).
HELD_BACK_RETRY_SECONDS = 5.0

_COLUMNS = ", ".join(SPAN_COLUMNS_FOR_ROLLUPS)
_NUMBERS = ", ".join(ordinal_column(identity) for identity in IDENTITY_COLUMNS)


def queued_spans() -> int:
    """How many stored spans wait for the rollups (exported to Prometheus: it should stay near 0)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {QUEUE}")
        return int(cursor.fetchone()[0])


def _queued_of(org_id: int | None, skipping: Collection[int]) -> tuple[str, dict[str, Any] | None]:
    """The WHERE clause (and its parameters) picking the queued spans of `org_id`, if given, or of
    every organization but those `skipping`."""
    if org_id is not None:
        return " WHERE org_id = %(org_id)s", {"org_id": org_id}
    if skipping:
        return " WHERE org_id <> ALL(%(skipping)s)", {"skipping": list(skipping)}
    return "", None


def queue_is_empty(org_id: int | None = None, skipping: Collection[int] = ()) -> bool:
    """Whether no span waits (of `org_id`, if given; or of anyone but the organizations `skipping`)."""
    which, params = _queued_of(org_id, skipping)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {QUEUE}{which})", params)
        return bool(cursor.fetchone()[0])


def fold_pending(min_period: float = 0.0, org_id: int | None = None, skipping: Collection[int] = ()) -> int:
    """Adds every queued span (only `org_id`'s, or all but those of the organizations `skipping`)
    to the rollups; returns how many (0 when another fold is running, or when the last fold
    began less than `min_period` seconds ago)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [FOLD_LOCK])
        if not cursor.fetchone()[0]:
            return 0
        # Whether this fold may start, and its start written, in one statement (no row yet: it
        # may). A last start in the future means the database's clock went back: folding must
        # not wait for it to catch up.
        cursor.execute(
            f"""INSERT INTO {FOLD_CLOCK} AS clock (only_row, last_started) VALUES (true, clock_timestamp())
            ON CONFLICT (only_row) DO UPDATE SET last_started = EXCLUDED.last_started
            WHERE clock.last_started <= EXCLUDED.last_started - make_interval(secs => %s)
               OR clock.last_started > EXCLUDED.last_started""",
            [min_period],
        )
        if cursor.rowcount == 0:
            return 0
        # A rollup table held by someone else (a rebuild) must not hold up the ingest request
        # folding after its commit: give up quickly, the spans stay queued for the next fold.
        # No JIT: the fold's one statement is large enough in cost estimates to be compiled,
        # which took seconds (LLVM, on a server with jit on) for a fold of milliseconds.
        cursor.execute(
            "SELECT set_config('work_mem', '64MB', true), set_config('lock_timeout', %s, true),"
            " set_config('jit', 'off', true)",
            [f"{FOLD_LOCK_TIMEOUT_MS}ms"],
        )
        which, params = _queued_of(org_id, skipping)
        taken = f"taken AS (DELETE FROM {QUEUE}{which} RETURNING {_COLUMNS}, {_NUMBERS})"
        # Prepared once per connection (a server-side-binding cursor): parsing and planning the
        # ~100 kB statement took ~12 ms of every fold. Its generic plan, made whatever the queue
        # held (empty, as a rule), folded 500 to 50,000 spans faster than a plan made per fold.
        # (Errors become Django's, as from `cursor`: a DataError is the data's, see fold_quietly.)
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as fold_cursor:
            fold_cursor.execute(fold_sql(taken, "taken", FOLD_SOURCE), params, prepare=True)
            row = fold_cursor.fetchone()
        return int(row[0]) if row else 0


def pause_before_next_fold() -> float:
    """Seconds until a paced fold may start: at least BUSY_RETRY_SECONDS (another process may be
    folding), at most a period (whatever the clock says)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT extract(epoch FROM last_started - clock_timestamp()) FROM {FOLD_CLOCK}")
            row = cursor.fetchone()
    except Exception:  # noqa: BLE001 - the database is away: the folder's next query finds out
        return BUSY_RETRY_SECONDS
    remaining = FOLD_PERIOD_SECONDS + float(row[0]) if row else 0.0
    return min(FOLD_PERIOD_SECONDS, max(BUSY_RETRY_SECONDS, remaining))


def vacuum_queue() -> None:
    """VACUUM of the queue: drops the dead rows and, when nobody holds the table, its empty pages.

    Needs autocommit (VACUUM cannot run inside a transaction); it does not block ingest or folds.
    To give back the empty pages at the end, PostgreSQL waits up to 5 s for a moment when no
    transaction holds the table, which under steady ingest never comes; SKIP_LOCKED lets every
    other process's VACUUM meanwhile return at once instead of queueing behind it (three server
    processes queued for 5, 10 and 15 s)."""
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (SKIP_LOCKED) {QUEUE}")


# Organizations whose spans the last try could not fold, in this process: when to try again.
_held_back: dict[int, float] = {}


def fold_quietly(min_period: float = 0.0) -> int | None:
    """fold_pending for callers whose spans are committed: a failure is logged (None), the next fold retries.

    A fold that fails on the data itself (a value a rollup column cannot hold) would fail again
    on every retry, and one fold takes every organization's spans: it is then folded again one
    organization at a time. An organization whose spans still fail is held back: later folds
    take everyone else's together, as usual, and retry its spans alone every
    HELD_BACK_RETRY_SECONDS (each failure logged as an error naming it), until they fold.
    """
    try:
        try:
            folded = fold_pending(min_period, skipping=list(_held_back))
        except DataError:
            return fold_each_organization()
        now = time.monotonic()
        due = [org_id for org_id, retry_at in _held_back.items() if retry_at <= now]
        return folded + fold_each_organization(due) if due else folded
    except Exception as exc:  # noqa: BLE001 - the spans stay queued; nothing is lost
        logger.warning("folding queued spans into the rollups failed (%s); the next fold retries", type(exc).__name__)
        return None


def fold_each_organization(org_ids: list[int] | None = None) -> int:
    """Folds the queued spans of each organization (of `org_ids`, or every one queued) alone;
    one whose fold fails on its data is held back, its spans queued, and the others go on."""
    if org_ids is None:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT DISTINCT org_id FROM {QUEUE} ORDER BY org_id")
            org_ids = [row[0] for row in cursor.fetchall()]
    folded = 0
    for org_id in org_ids:
        try:
            taken = fold_pending(org_id=org_id)
        except DataError as exc:
            _held_back[org_id] = time.monotonic() + HELD_BACK_RETRY_SECONDS
            logger.error(
                "folding the queued spans of organization %s failed (%s); they stay queued and are retried in %s s",
                org_id,
                type(exc).__name__,
                HELD_BACK_RETRY_SECONDS,
            )
        except Exception as exc:  # noqa: BLE001 - not the data (the database, a lock): the next fold retries
            logger.warning("folding the queued spans of organization %s failed (%s)", org_id, type(exc).__name__)
        else:
            folded += taken
            # Nothing taken may also mean another process was folding: an organization stays
            # held back until its spans are seen to fold.
            if taken or queue_is_empty(org_id):
                _held_back.pop(org_id, None)
    return folded


_started = threading.Event()
_wanted = threading.Event()


def fold_soon() -> None:
    """After a commit that queued spans: the folder thread folds at once, or (without one) the caller."""
    if _started.is_set():
        _wanted.set()
    else:
        fold_quietly()


def fold_before_exit(within_seconds: float = 5.0) -> None:
    """Folds what is queued before a server process goes (a stop, a deploy, a recycled worker),
    so that spans acknowledged just before do not wait out of the rollups until the next start.

    Another process may hold the fold at that moment, having begun before this one's last batch
    was committed: so it tries until the queue is empty or `within_seconds` have passed. The
    spans of organizations held back (see fold_quietly) are not waited for, and a failed fold
    ends the tries: the spans are safe in the queue either way, for the next fold.
    """
    deadline = time.monotonic() + within_seconds
    try:
        while not queue_is_empty(skipping=list(_held_back)) and time.monotonic() < deadline:
            folded = fold_quietly()
            if folded is None:
                return
            if folded == 0:  # another process is folding
                time.sleep(BUSY_RETRY_SECONDS)
    except Exception as exc:  # noqa: BLE001 - the database is away: the next start folds them
        logger.warning("folding before exit failed (%s); the queued spans wait for the next fold", type(exc).__name__)


def start_background_folding() -> None:
    """A daemon thread folding when asked (`fold_soon`) and every half second, and one vacuuming
    the queue every VACUUM_INTERVAL_SECONDS (once per process; gunicorn calls it per worker).

    The VACUUM has a thread of its own because it can wait seconds (see `vacuum_queue`): run by
    the folder after a fold, it held that process's folds back for 5-15 s at a time under
    steady ingest, and spans took as long to show (a 4-5 s visibility lag in I1 runs).
    """
    if _started.is_set():
        return
    _started.set()

    def fold_loop() -> None:
        wait = BACKGROUND_INTERVAL_SECONDS
        while True:
            _wanted.wait(wait)
            _wanted.clear()
            wait = BACKGROUND_INTERVAL_SECONDS
            close_old_connections()
            try:
                idle = queue_is_empty()  # one cheap query; a fold costs several
            except Exception:  # noqa: BLE001 - the database is away; try again next time
                continue
            if not idle and fold_quietly(FOLD_PERIOD_SECONDS) == 0:
                # Another process is folding, or the last fold began less than a period ago:
                # sleep until the period is over, then try again at once. (Requests asking for a
                # fold meanwhile cannot make it sooner; under load each of them woke this thread
                # for two queries in vain.) After a failure, such as a rebuild holding a rollup
                # table, the next try is the regular one: one warning per half second.
                time.sleep(pause_before_next_fold())
                wait = 0.0

    def vacuum_loop() -> None:
        while True:
            time.sleep(VACUUM_INTERVAL_SECONDS)
            close_old_connections()
            try:
                vacuum_queue()
            except Exception:  # noqa: BLE001 - the database is away; try again next time
                pass

    threading.Thread(target=fold_loop, name="rollup-folder", daemon=True).start()
    threading.Thread(target=vacuum_loop, name="rollup-queue-vacuum", daemon=True).start()
