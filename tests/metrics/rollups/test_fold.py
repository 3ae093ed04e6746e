"""Folding the rollup queue: one organization's spans that cannot be folded hold back no other's;
no fold is JIT-compiled."""

import logging
import runpy
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from metrics.ingest.validation import parse_json_span
from metrics.rollups import fold
from metrics.rollups.fold import fold_quietly
from tests.metrics.factories import json_span, queued_spans_of, rollup_rows, store_unfolded

pytestmark = pytest.mark.django_db

BIGINT_MAX = 2**63 - 1


@pytest.fixture(autouse=True)
def _no_organization_held_back():
    """Which organizations are held back is this process's memory: no test leaves one behind."""
    fold._held_back.clear()
    yield
    fold._held_back.clear()


def test_an_organization_whose_spans_cannot_be_folded_holds_back_no_other(org, other_org, caplog):
    # given: org's daily totals already at bigint's largest token sum (written here: no ingest
    # reaches it), so adding any token to them fails, and a span of each organization queued
    span, other_span = json_span(prompt_tokens=1000), json_span(prompt_tokens=700)
    day = datetime.fromisoformat(span["start_time"]).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO llm_totals_1day (org_id, bucket, prompt_tokens_sum) VALUES (%s, %s, %s)",
            [org.pk, day, BIGINT_MAX],
        )
    store_unfolded(org.pk, [parse_json_span(span)])
    store_unfolded(other_org.pk, [parse_json_span(other_span)])

    # when
    with caplog.at_level(logging.ERROR, logger="metrics.rollups.fold"):
        folded = fold_quietly()

    # then: the other organization's span is in its rollups; org's waits in the queue, named in the log
    assert folded == 1
    (other_totals,) = rollup_rows("llm_totals_1day", other_org.pk)
    assert (other_totals["request_count"], other_totals["prompt_tokens_sum"]) == (1, 700)
    assert sum(row["request_count"] for row in rollup_rows("llm_metrics_1min", other_org.pk)) == 1
    assert (queued_spans_of(org.pk), queued_spans_of(other_org.pk)) == (1, 0)
    assert rollup_rows("llm_metrics_1min", org.pk) == []  # none of its rollups took the span
    assert any(f"organization {org.pk}" in record.getMessage() for record in caplog.records)

    errors_logged = len(caplog.records)

    # and while org is held back, the other's next span is folded in one fold, without a retry of
    # org's before its time
    store_unfolded(other_org.pk, [parse_json_span(json_span(prompt_tokens=300))])
    with caplog.at_level(logging.ERROR, logger="metrics.rollups.fold"):
        assert fold_quietly() == 1
    assert rollup_rows("llm_totals_1day", other_org.pk)[0]["prompt_tokens_sum"] == 1000
    assert (queued_spans_of(org.pk), len(caplog.records)) == (1, errors_logged)

    # and once the row is mended, the retry takes the span that waited
    with connection.cursor() as cursor:
        cursor.execute("UPDATE llm_totals_1day SET prompt_tokens_sum = 0 WHERE org_id = %s", [org.pk])
    fold._held_back[org.pk] = 0.0  # its retry is due (HELD_BACK_RETRY_SECONDS have passed)
    assert fold_quietly() == 1
    assert fold._held_back == {}
    (totals,) = rollup_rows("llm_totals_1day", org.pk)
    assert (totals["request_count"], totals["prompt_tokens_sum"]) == (1, 1000)
    assert queued_spans_of(org.pk) == 0


def test_a_held_back_organization_stays_held_back_while_another_process_folds(org):
    # given: org held back with its retry due, a span of it queued, and another process folding
    # (holding the fold's lock)
    store_unfolded(org.pk, [parse_json_span(json_span(prompt_tokens=10))])
    fold._held_back[org.pk] = 0.0
    other_process = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    try:
        other_process.execute("SELECT pg_advisory_lock(%s)", [fold.FOLD_LOCK])
        # when: its retry finds the lock taken
        assert fold.fold_each_organization([org.pk]) == 0
        # then: nothing was folded, and it is still held back (not folded in with everyone's)
        assert queued_spans_of(org.pk) == 1
        assert org.pk in fold._held_back
    finally:
        other_process.close()
    # and once the other process is done, the retry folds the span and lets the organization go
    assert fold.fold_each_organization([org.pk]) == 1
    assert (queued_spans_of(org.pk), fold._held_back) == (0, {})


def test_a_gunicorn_worker_going_away_folds_what_is_queued(org):
    # given: two acknowledged spans still queued, and the server's hooks as gunicorn loads them
    hooks = runpy.run_path(str(Path(__file__).resolve().parents[3] / "observatory" / "gunicorn.conf.py"))
    store_unfolded(org.pk, [parse_json_span(json_span()), parse_json_span(json_span())])
    # when: a worker exits
    hooks["worker_exit"](None, None)
    # then: they are in the rollups, not left for the next start
    assert queued_spans_of(org.pk) == 0
    assert sum(row["request_count"] for row in rollup_rows("llm_metrics_1min", org.pk)) == 2


def test_a_worker_going_away_does_not_wait_for_a_held_back_organization(org, monkeypatch):
    # given: a queued span of an organization held back (its spans cannot be folded for now)
    store_unfolded(org.pk, [parse_json_span(json_span())])
    fold._held_back[org.pk] = time.monotonic() + 60
    monkeypatch.setattr(fold.time, "sleep", lambda seconds: pytest.fail("waited for a held-back organization"))
    # when
    fold.fold_before_exit(within_seconds=60)
    # then: it returned at once, the span still queued for a later fold
    assert queued_spans_of(org.pk) == 1


def test_the_fold_statement_is_parsed_and_planned_once_per_connection(org):
    # when: three folds on this test's connection
    for _ in range(3):
        store_unfolded(org.pk, [parse_json_span(json_span())])
        assert fold.fold_pending() == 1
    # then: one prepared statement ran them all (the queue's DELETE is the fold's alone)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%DELETE FROM llm_rollup_queue%"],
        )
        assert cursor.fetchall() == [(3,)]


def test_a_fold_runs_without_jit_on_a_server_that_compiles_every_statement(org):
    # given: a session that would JIT-compile any statement (PostgreSQL's default is jit on, with
    # a cost threshold the fold's one statement passes), and a trigger noting the setting the
    # fold's statement runs with when it writes the minute rollup (all undone with the test's
    # transaction)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', 'on', false), set_config('jit_above_cost', '0', false)")
        cursor.execute("CREATE TEMP TABLE jit_seen (setting text)")
        cursor.execute(
            """CREATE FUNCTION pg_temp.note_jit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO jit_seen VALUES (current_setting('jit')); RETURN NULL; END $$"""
        )
        cursor.execute(
            "CREATE TRIGGER note_jit AFTER INSERT ON llm_metrics_1min"
            " FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.note_jit()"
        )
    store_unfolded(org.pk, [parse_json_span(json_span())])
    # when
    assert fold.fold_pending() == 1
    # then: the fold compiled nothing (LLVM took seconds a fold)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting FROM jit_seen")
        assert cursor.fetchall() == [("off",)]
