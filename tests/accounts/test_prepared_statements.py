"""The lookups behind every authenticated request are planned once per connection; metrics
queries are planned for their own values every time."""

import pytest
from django.db import connection
from django.http import QueryDict

from metrics.query.parse import query_from_params
from metrics.query.runner import run_query

pytestmark = pytest.mark.django_db


def prepared_statements() -> list[tuple[str, int]]:
    """(statement, times run) of every statement prepared on this session's connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        return cursor.fetchall()


def test_the_membership_check_is_prepared_once_and_run_on_every_request(org, make_member, client_for):
    client = client_for(make_member("viewer", org))
    for _ in range(3):
        assert client.get("/api/v1/metrics/schema").status_code == 200
    membership = [runs for statement, runs in prepared_statements() if "accounts_membership" in statement]
    assert membership == [3]


def test_an_api_key_lookup_is_prepared_once(api_key_client):
    client = api_key_client(scopes=["metrics:read"])
    for _ in range(2):
        assert client.get("/api/v1/metrics/schema").status_code == 200
    assert [runs for statement, runs in prepared_statements() if "accounts_apikey" in statement] == [2]


def test_metrics_queries_are_never_prepared(org):
    # psycopg would prepare a statement on its fifth run
    query = query_from_params(QueryDict("metrics=request_count,total_cost&group_by=provider"), org_id=org.pk)
    for _ in range(6):
        run_query(query)
    assert not [statement for statement, _ in prepared_statements() if "llm_" in statement]
