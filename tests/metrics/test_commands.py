"""Management commands: seed_demo, rebuild_rollups, enforce_retention, create_api_key; partitions."""

import hashlib
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts import services
from accounts.models import ApiKey, Membership, Organization
from metrics.ingest import pipeline
from metrics.ingest.validation import parse_json_span
from metrics.rollups.measures import ROLLUP_TABLES
from metrics.rollups.partitions import existing_partitions, forget_partitions
from tests.metrics.factories import json_span, rollup_rows, stored_spans
from tests.metrics.rollups.oracle import expected_rollups, normalize_db_rows

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def ingest(organization, *spans):
    return pipeline.ingest(organization, [(i, parse_json_span(s)) for i, s in enumerate(spans)])


def test_seed_demo_creates_an_org_with_a_user_per_role_and_spans_with_rollups(db):
    # when
    out = run("seed_demo", "--org", "seeded", "--spans", "3000", "--days", "3", "--seed", "7")
    # then
    organization = Organization.objects.get(slug="seeded")
    roles = dict(Membership.objects.filter(organization=organization).values_list("user__username", "role__name"))
    assert roles == {
        "seeded-admin": "admin",
        "seeded-developer": "developer",
        "seeded-viewer": "viewer",
        "seeded-billing": "billing",
    }
    spans = stored_spans(organization.pk)
    assert len(spans) == 3000
    assert len({s["model"] for s in spans}) > 20
    assert {s["environment"] for s in spans} == {"production", "staging", "development"}
    assert 0 < sum(s["status_code"] == "ERROR" for s in spans) < 200
    assert all(s["total_cost"] is not None and s["total_cost"] > 0 for s in spans)
    assert "3,000 spans" in out
    # the rollups are what the raw spans add up to
    from metrics.rollups.measures import GRAINS_BY_NAME

    live = normalize_db_rows(rollup_rows("llm_metrics_1hour", organization.pk))
    assert live == expected_rollups(spans, GRAINS_BY_NAME["1hour"])


def test_seed_demo_is_idempotent_and_deterministic(db):
    run("seed_demo", "--org", "twice", "--spans", "500", "--days", "2", "--seed", "3")
    first = [
        (s["trace_id"], s["model"], s["prompt_tokens"]) for s in stored_spans(Organization.objects.get(slug="twice").pk)
    ]
    out = run("seed_demo", "--org", "twice", "--spans", "500", "--days", "2", "--seed", "3")
    assert "already has spans" in out
    assert len(first) == 500
    run("seed_demo", "--org", "again", "--spans", "500", "--days", "2", "--seed", "3")
    again = [
        (s["trace_id"], s["model"], s["prompt_tokens"]) for s in stored_spans(Organization.objects.get(slug="again").pk)
    ]
    # same seed, same draws (ids embed the org, so compare the rest)
    assert sorted((m, p) for _, m, p in first) == sorted((m, p) for _, m, p in again)


def test_demo_spans_fill_every_day_of_the_range_alike(db):
    now = datetime.now(UTC)
    run("seed_demo", "--org", "even", "--spans", "9000", "--days", "9", "--seed", "5")
    per_day: dict[date, int] = {}
    for span in stored_spans(Organization.objects.get(slug="even").pk):
        day = span["ts"].astimezone(UTC).date()
        per_day[day] = per_day.get(day, 0) + 1
    # The range is the 9 days up to now: the UTC days at its two ends are partial (together one
    # whole day of the daily cycle; at midnight the last one is empty), the 8 between are whole.
    first, last = (now - timedelta(days=9)).date(), now.date()
    full_days = [n for day, n in per_day.items() if first < day < last]
    assert sum(per_day.values()) == 9000
    assert len(full_days) == 8, per_day
    mean = 9000 / 9
    assert all(abs(n - mean) < 0.15 * mean for n in full_days), per_day
    assert abs(per_day.get(first, 0) + per_day.get(last, 0) - mean) < 0.15 * mean, per_day


def test_seed_demo_uses_the_given_or_default_password(db):
    run("seed_demo", "--org", "pw", "--spans", "0")
    assert services.login_membership(username="pw-viewer", password="demo-password", organization_slug=None)
    run("seed_demo", "--org", "pw", "--spans", "0", "--password", "s3cret-pass")
    assert services.login_membership(username="pw-viewer", password="s3cret-pass", organization_slug=None)


def test_rebuild_rollups_equals_the_live_rollups(org):
    spans = [json_span(duration_ms=10 * i, user_id=f"u{i % 3}", session_id=f"s{i % 4}") for i in range(1, 30)]
    for span in spans[::5]:
        span.update(
            status_code="ERROR", error_type="Timeout", error_message=f"timed out after {span['duration_ms']} ms"
        )
    ingest(org, *spans)
    tables = ROLLUP_TABLES
    live = {t: _table_rows(t, org.pk) for t in tables}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {table} WHERE org_id = %s", [org.pk])  # lose them...
    now = datetime.now(UTC)
    out = run(
        "rebuild_rollups", "--start", (now - timedelta(days=1)).isoformat(), "--end", now.isoformat(), "--org", "acme"
    )
    rebuilt = {t: _table_rows(t, org.pk) for t in tables}
    assert all(live.values())
    assert rebuilt == live  # ...and get them back exactly
    assert "29 spans" in out


def _table_rows(table: str, org_id: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE org_id = %s", [org_id])
        return sorted(cursor.fetchall(), key=str)


@pytest.mark.parametrize("args", [["--start", "x", "--end", "y"], ["--start", "2026-01-02", "--end", "2026-01-01"]])
def test_rebuild_rollups_refuses_bad_ranges(db, args):
    with pytest.raises(CommandError):
        run("rebuild_rollups", *args)


def test_an_old_span_within_retention_gets_its_partition_on_demand(org):
    # given: an org keeping a year, and a span 200 days old (no partition was made that far back)
    org.retention_days = 365
    org.save()
    old = datetime.now(UTC) - timedelta(days=200)
    assert old.date() not in existing_partitions()
    # when
    result = ingest(org, json_span(start_time=old.isoformat()))
    # then
    assert result.accepted == 1
    assert old.date() in existing_partitions()


def test_a_span_a_few_hours_ahead_is_accepted(org):
    ahead = datetime.now(UTC) + timedelta(hours=20)
    assert ingest(org, json_span(start_time=ahead.isoformat())).accepted == 1


def test_enforce_retention_drops_old_partitions_and_rollup_rows(org, other_org):
    # given: spans 50 and 5 days old, in an org keeping 30 days and one keeping 60
    org.retention_days, other_org.retention_days = 30, 60
    org.save()
    other_org.save()
    now = datetime.now(UTC)
    old_day = now - timedelta(days=70)
    ingest(org, json_span(start_time=(now - timedelta(days=5)).isoformat()))
    org.retention_days = 365
    org.save()
    ingest(org, json_span(start_time=(now - timedelta(days=50)).isoformat()))
    org.retention_days = 30
    org.save()
    with connection.cursor() as cursor:  # a stale partition and a stale 1-minute rollup row
        cursor.execute("SELECT llm_traces_ensure_partition(%s)", [old_day.date()])
        cursor.execute(
            "INSERT INTO llm_metrics_1min (org_id, bucket, provider, model, environment, status_code, request_count)"
            " VALUES (%s, %s, 'p', 'm', '', 'OK', 1)",
            [org.pk, now - timedelta(days=40)],
        )
    forget_partitions()
    # when
    out = run("enforce_retention")
    # then: the 70-day-old partition is gone (older than every org's retention)
    assert old_day.date() not in existing_partitions()
    assert f"llm_traces_p{old_day:%Y%m%d}" in out
    # the 50-day-old span is past acme's 30 days: deleted; the recent one stays
    assert len(stored_spans(org.pk)) == 1
    # 1-minute rollups are kept 37 days
    assert all(r["bucket"] > now - timedelta(days=37) for r in rollup_rows("llm_metrics_1min", org.pk))
    # and partitions exist a week ahead
    assert (now + timedelta(days=7)).date() in existing_partitions()


def test_create_api_key_prints_a_working_secret(org):
    out = run("create_api_key", "--org", "acme", "--name", "ci", "--scopes", "spans:write,metrics:read")
    secret = out.strip()
    key = ApiKey.objects.get(name="ci")
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.scopes == ["spans:write", "metrics:read"]


@pytest.mark.parametrize(
    "args",
    [["--org", "nope", "--name", "x"], ["--org", "acme", "--name", "x", "--scopes", "api_keys:manage"]],
    ids=["unknown-org", "bad-scope"],
)
def test_create_api_key_refuses_bad_input(org, args):
    with pytest.raises(CommandError):
        run("create_api_key", *args)


def test_partition_names_are_days(db):
    assert all(isinstance(day, date) and name.endswith(f"{day:%Y%m%d}") for day, name in existing_partitions().items())
