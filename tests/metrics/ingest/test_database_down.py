"""Storage trouble during ingest: a retryable 503 with Retry-After, then the retry is stored once."""

import orjson
import pytest
from django.db import connection

from metrics.rollups.fold import fold_pending
from tests.metrics import otel_helpers
from tests.metrics.factories import another_session, json_span, rollup_rows, stored_spans

pytestmark = pytest.mark.usefixtures("committed_db")


def post_spans(client, spans):
    return client.post("/api/v1/spans", data=orjson.dumps({"spans": spans}), content_type="application/json")


def test_a_locked_span_table_gives_503_then_the_retry_is_stored_once(api_key_client, org, settings):
    # given: another session holds the span table, and ingest may wait only briefly
    settings.INGEST_STATEMENT_TIMEOUT_MS = 300
    client = api_key_client(["spans:write"])
    batch = [json_span(), json_span()]
    blocker = another_session(autocommit=False)
    blocker.execute("LOCK TABLE llm_traces IN ACCESS EXCLUSIVE MODE")
    try:
        # when
        response = post_spans(client, batch)
    finally:
        blocker.rollback()
        blocker.close()
    # then: retryable, and nothing half-written
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert int(response["Retry-After"]) > 0
    assert stored_spans(org.pk) == []
    # and the client's retry lands, once
    assert post_spans(client, batch).json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert post_spans(client, batch).json()["duplicates"] == 2
    assert len(stored_spans(org.pk)) == 2


def test_a_locked_rollup_table_delays_only_the_rollups(api_key_client, org):
    # given: another session holds a rollup table
    client = api_key_client(["spans:write"])
    blocker = another_session(autocommit=False)
    blocker.execute("LOCK TABLE llm_metrics_1min IN ACCESS EXCLUSIVE MODE")
    try:
        # when: spans arrive meanwhile
        response = post_spans(client, [json_span(), json_span()])
    finally:
        blocker.rollback()
        blocker.close()
    # then: they are stored and acknowledged, and wait in the queue (the fold gave up quickly)
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert _queued() == 2
    assert rollup_rows("llm_metrics_1min", org.pk) == []
    # and the next fold (the server's folder runs twice a second) counts them, once
    assert fold_pending() == 2
    assert sum(r["request_count"] for r in rollup_rows("llm_metrics_1min", org.pk)) == 2
    assert _queued() == 0


def _queued() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM llm_rollup_queue")
        return cursor.fetchone()[0]


def test_an_unreachable_database_gives_otlp_clients_a_503_then_recovers(api_key_client, org):
    client = api_key_client(["spans:write"])
    body = otel_helpers.otlp_protobuf(otel_helpers.captured_spans(count=2))
    settings_dict = connection.settings_dict
    saved = (settings_dict["HOST"], settings_dict["PORT"])
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", "1"  # nothing listens there
    try:
        down = client.post("/v1/traces", data=body, content_type="application/x-protobuf")
    finally:
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = saved
    assert down.status_code == 503
    assert down["Content-Type"] == "application/x-protobuf"
    assert down["Retry-After"]
    up = client.post("/v1/traces", data=body, content_type="application/x-protobuf")
    assert up.status_code == 200
    assert len(stored_spans(org.pk)) == 2
