"""Concurrent ingest into the same buckets: exact totals, every span once, no deadlock."""

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections

from accounts import services
from metrics.ingest import pipeline
from metrics.ingest.validation import parse_json_span
from metrics.rollups import identities
from metrics.rollups.fold import fold_pending, vacuum_queue
from metrics.rollups.measures import ROLLUPS
from tests.metrics.factories import another_session, bitmap_identities, rollup_rows, store_unfolded

pytestmark = pytest.mark.usefixtures("committed_db")

THREADS = 4
BATCHES_PER_THREAD = 8
BATCH_SIZE = 150


def test_threads_ingesting_overlapping_batches_count_every_span_exactly_once(roles):
    # given: a pool of spans in three hot minutes; every batch draws from it, so threads collide
    organization = services.organization_ensure(slug="concurrent")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    pool = [
        {
            "trace_id": f"{i // 10 + 1:032x}",
            "span_id": f"{i + 1:016x}",
            "start_time": (now - timedelta(minutes=i % 3, seconds=i % 50)).isoformat(),
            "duration_ms": 100 + i,
            "provider": "openai",
            "model": ["gpt-4o", "gpt-4o-mini"][i % 2],
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_cost_usd": "0.0001",
            "user_id": f"u{i % 7}",
            "session_id": f"s{i % 400}",  # many new identities at once: numbering under contention
        }
        for i in range(1500)
    ]
    errors: list[BaseException] = []
    sent_ids: set[str] = set()
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(BATCHES_PER_THREAD):
                batch = rng.sample(pool, BATCH_SIZE)
                pipeline.ingest(organization, [(i, parse_json_span(s)) for i, s in enumerate(batch)])
                with lock:
                    sent_ids.update(s["span_id"] for s in batch)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # then
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT span_id) FROM llm_traces WHERE org_id = %s", [organization.pk])
        total, distinct = cursor.fetchone()
    assert total == distinct == len(sent_ids)
    # a fold running while a batch commits leaves it queued for the next one (the server folds
    # twice a second); after one more fold the rollups hold every span exactly once
    fold_pending()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM llm_rollup_queue")
        assert cursor.fetchone()[0] == 0
    for table in ("llm_metrics_1min", "llm_metrics_1hour", "llm_metrics_1day"):
        rows = rollup_rows(table, organization.pk)
        assert sum(r["request_count"] for r in rows) == len(sent_ids), table
        assert sum(r["prompt_tokens_sum"] for r in rows) == 10 * len(sent_ids), table
    # every identity has one number, no number is given twice, and the bitmaps hold exactly the sent ones
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind, count(*), count(DISTINCT ordinal) FROM llm_identities WHERE org_id = %s GROUP BY kind",
            [organization.pk],
        )
        numbered = {kind: (total, distinct) for kind, total, distinct in cursor.fetchall()}
    sent = [s for s in pool if s["span_id"] in sent_ids]
    users, sessions = {s["user_id"] for s in sent}, {s["session_id"] for s in sent}
    assert numbered == {"user_id": (len(users), len(users)), "session_id": (len(sessions), len(sessions))}
    seen = bitmap_identities("llm_sessions_bitmap_1day", "session_id", organization.pk)
    assert set().union(*seen.values()) == sessions
    # numbers given outside a transaction are remembered by the process, exactly as stored
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind, value, ordinal FROM llm_identities WHERE org_id = %s", [organization.pk])
        stored = {(organization.pk, kind, value): ordinal for kind, value, ordinal in cursor.fetchall()}
    remembered = {key: number for key, number in identities._known.items() if key[0] == organization.pk}
    assert remembered == stored
    expected_duration = sum(100 + int(s["span_id"], 16) - 1 for s in pool if s["span_id"] in sent_ids)
    assert sum(r["duration_sum"] for r in rollup_rows("llm_metrics_1day", organization.pk)) == expected_duration


def test_a_parallel_rebuild_during_ingest_neither_loses_nor_doubles_a_span(roles):
    from metrics.rollups.rebuild import rebuild_rollups
    from tests.metrics.factories import stored_spans
    from tests.metrics.rollups.oracle import expected_table, normalize_db_rows

    # given: spans over three days, stored and folded
    organization = services.organization_ensure(slug="rebuilt-live")
    now = datetime.now(UTC).replace(microsecond=0)

    def batch(seed: int, size: int) -> list[dict]:
        rng = random.Random(seed)
        return [
            {
                "trace_id": f"{rng.getrandbits(128) | 1:032x}",
                "span_id": f"{rng.getrandbits(64) | 1:016x}",
                "start_time": (now - timedelta(seconds=rng.randrange(0, 3 * 86400))).isoformat(),
                "duration_ms": rng.randrange(1, 5000),
                "provider": "openai",
                "model": rng.choice(["gpt-4o", "gpt-4o-mini"]),
                "user_id": f"u{rng.randrange(30)}",
                "session_id": f"s{rng.randrange(90)}",
            }
            for _ in range(size)
        ]

    def send(spans: list[dict]) -> None:
        pipeline.ingest(organization, [(i, parse_json_span(s)) for i, s in enumerate(spans)])

    send(batch(0, 300))
    errors: list[BaseException] = []

    def keep_ingesting() -> None:
        try:
            for seed in range(1, 25):
                send(batch(seed, 40))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    # when: two days at a time are rebuilt while batches keep arriving (and folding)
    ingesting = threading.Thread(target=keep_ingesting)
    ingesting.start()
    rebuild_rollups(start=now - timedelta(days=4), end=now + timedelta(days=1), org_id=organization.pk, workers=2)
    ingesting.join(timeout=120)
    fold_pending()
    # then: every rollup row equals a recomputation from the stored spans
    assert errors == []
    spans = stored_spans(organization.pk)
    assert len(spans) == 300 + 24 * 40
    for rollup in ROLLUPS:
        live = normalize_db_rows(rollup_rows(rollup.table, organization.pk), rollup.dimensions)
        assert live == expected_table(spans, rollup), rollup.table
    # and the emptied queue's dead rows and pages go with a vacuum (the server's folder runs it)
    vacuum_queue()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size('llm_rollup_queue')")
        assert cursor.fetchone()[0] == 0


def test_fold_outcomes_tell_another_folder_busy_from_a_failed_fold(roles):
    """The folder thread retries 50 ms after a busy lock (0) but waits its half second after a
    failure (None), so a rebuild holding a rollup table does not log a warning every 50 ms."""
    from metrics.rollups.fold import FOLD_LOCK, fold_quietly

    organization = services.organization_ensure(slug="fold-outcomes")
    span = {
        "trace_id": "c" * 32,
        "span_id": "d" * 16,
        "start_time": datetime.now(UTC).isoformat(),
        "duration_ms": 5,
        "provider": "p",
        "model": "m",
    }
    record = parse_json_span(span)
    store_unfolded(organization.pk, [record])
    other = another_session()
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [FOLD_LOCK])
        assert fold_quietly() == 0  # another folder holds the lock
        other.execute("SELECT pg_advisory_unlock(%s)", [FOLD_LOCK])
        with other.transaction():
            other.execute(f"LOCK TABLE {ROLLUPS[0].table} IN ACCESS EXCLUSIVE MODE")
            assert fold_quietly() is None  # the fold gave up on its lock timeout
    finally:
        other.close()
    assert fold_quietly() == 1  # and the span, still queued, is folded by the next one
    assert sum(r["request_count"] for r in rollup_rows(ROLLUPS[0].table, organization.pk)) == 1


def test_a_paced_fold_waits_until_its_period_has_passed_since_the_last_fold_began(roles):
    """Background folds are paced deployment-wide (FOLD_PERIOD_SECONDS); direct ones are not."""
    from metrics.rollups.fold import BUSY_RETRY_SECONDS, FOLD_PERIOD_SECONDS, fold_quietly, pause_before_next_fold

    organization = services.organization_ensure(slug="fold-pacing")
    now = datetime.now(UTC)

    def queue_one(span_id: str) -> None:
        span = {"trace_id": "e" * 32, "span_id": span_id, "start_time": now.isoformat(), "duration_ms": 5}
        record = parse_json_span({**span, "provider": "p", "model": "m"})
        store_unfolded(organization.pk, [record])

    queue_one("1" * 16)
    assert fold_pending() == 1  # unpaced: at once
    # the background folder would sleep out the rest of the period
    assert BUSY_RETRY_SECONDS <= pause_before_next_fold() <= FOLD_PERIOD_SECONDS
    queue_one("2" * 16)
    assert fold_quietly(min_period=60) == 0  # the last fold began less than a minute ago
    assert sum(r["request_count"] for r in rollup_rows(ROLLUPS[0].table, organization.pk)) == 1
    assert fold_quietly(min_period=0.0) == 1  # the span waited in the queue
    queue_one("3" * 16)
    with connection.cursor() as cursor:  # as if the last fold began a minute ago
        cursor.execute("UPDATE llm_rollup_fold_clock SET last_started = last_started - interval '1 minute'")
    assert pause_before_next_fold() == BUSY_RETRY_SECONDS  # the period is long over
    assert fold_quietly(min_period=30) == 1
    queue_one("4" * 16)
    with connection.cursor() as cursor:  # the database's clock went back an hour since the last fold
        cursor.execute("UPDATE llm_rollup_fold_clock SET last_started = clock_timestamp() + interval '1 hour'")
    assert pause_before_next_fold() == FOLD_PERIOD_SECONDS  # never longer than a period
    assert fold_quietly(min_period=30) == 1  # folding does not wait for the clock to catch up
    assert sum(r["request_count"] for r in rollup_rows(ROLLUPS[0].table, organization.pk)) == 4


def test_vacuuming_the_queue_never_waits_for_another_vacuum_of_it(roles):
    """Each server process vacuums the queue every few seconds. A VACUUM of it can take seconds
    (PostgreSQL waits up to 5 s to give back empty pages while ingest holds the table), and the
    others queued behind it (5, 10, 15 s) held back their processes' folds; now they skip it."""
    other = another_session()
    finished = threading.Event()

    def vacuum() -> None:
        try:
            vacuum_queue()
            finished.set()
        finally:
            connections.close_all()

    try:
        with other.transaction():
            # What a VACUUM in progress (another process's, or autovacuum's) holds on the table.
            other.execute("LOCK TABLE llm_rollup_queue IN SHARE UPDATE EXCLUSIVE MODE")
            vacuuming = threading.Thread(target=vacuum)
            vacuuming.start()
            # Waiting for the lock, it would finish only once this transaction ends.
            vacuuming.join(timeout=30)
            assert finished.is_set()
    finally:
        other.close()
        vacuuming.join()
