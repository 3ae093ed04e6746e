"""make bench: the SPEC §12 benchmark. Dataset → production server on loopback → scenarios → report.

    python -m bench.run [--spans 1000000] [--seed 1] [--requests 200] [--scenarios I1] [--smoke]

Uses DATABASE_URL when set (a database dedicated to the benchmark), else an embedded
PostgreSQL under .data/bench/<spans>-spans (one per dataset size). Prints a table and writes
bench/results/<timestamp>.json.
"""

import argparse
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psutil

    from bench.server import CpuMeter

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA_DIR = ROOT / ".data" / "bench"


def data_dir_for(spans: int) -> Path:
    """One embedded database per dataset size: a 1M run never replaces a 10M dataset, nor the smoke either."""
    return BENCH_DATA_DIR / f"{spans}-spans"


ORG_SHARES = {"bench-large": 0.90, "bench-small-a": 0.05, "bench-small-b": 0.05}
# I1 ingests into an organization of its own, so the measured dataset stays as generated (and reusable).
INGEST_ORG = "bench-ingest"
PASSWORD = "bench-password-" + "x" * 8
FLOOR_BUDGET_SECONDS = 30
# After each I1 run: batches of this many spans, each timed until GET /metrics counts all of it.
LAG_PROBES = 5
LAG_PROBE_SPANS = 500


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def ensure_database(url: str) -> None:
    """Creates the benchmark's database on the given server if it does not exist yet."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    name = str(params.get("dbname", "postgres"))
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError:
        with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        log(f"created database {name}")


def setup_django(data_dir: Path) -> None:
    if os.environ.get("DATABASE_URL"):
        ensure_database(os.environ["DATABASE_URL"])
    else:
        os.environ["DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observatory.settings")
    sys.path.insert(0, str(ROOT))
    import logging

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)


# ---- dataset ---------------------------------------------------------------------------------------


def prepare_dataset(total_spans: int, seed: int) -> tuple[dict[str, int], int]:
    """The three organizations with their share of spans over 90 days; reused when already loaded.

    Returns the organizations' ids and how many spans this run generated (0: all reused).
    """
    from django.core.management import call_command
    from django.db import connection

    from accounts import services
    from metrics.demo_data import DatasetSpec, generate_dataset
    from metrics.rollups.measures import SPAN_TABLES

    call_command("migrate", verbosity=0)
    roles = services.roles_ensure_defaults()
    org_ids, generated = {}, 0
    for slug, share in ORG_SHARES.items():
        organization = services.organization_ensure(slug=slug, name=slug)
        user = services.user_ensure(username=f"{slug}-admin", password=PASSWORD)
        services.membership_set(user=user, organization=organization, role=roles["admin"])
        org_ids[slug] = organization.pk
        wanted = int(total_spans * share)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM llm_traces WHERE org_id = %s", [organization.pk])
            have = cursor.fetchone()[0]
        if have == wanted:
            log(f"{slug}: reusing {have:,} spans")
            continue
        if have:
            log(f"{slug}: has {have:,} spans, wants {wanted:,}: reloading")
            with connection.cursor() as cursor:
                for table in SPAN_TABLES:
                    cursor.execute(f"DELETE FROM {table} WHERE org_id = %s", [organization.pk])
        started = time.monotonic()

        rollups_started = [started]

        def progress(
            done: int, total: int, slug: str = slug, started: float = started, marks: list[float] = rollups_started
        ) -> None:
            rate = done / max(time.monotonic() - started, 1e-9)
            eta = (total - done) / rate if rate else 0
            log(f"{slug}: generated {done:,}/{total:,} spans ({rate:,.0f}/s, ETA {eta:,.0f}s), then rollups")
            marks[0] = time.monotonic()

        def rollup_progress(done: int, total: int, slug: str = slug, marks: list[float] = rollups_started) -> None:
            if done % 10 == 0 or done == total:
                eta = (time.monotonic() - marks[0]) / done * (total - done)
                log(f"{slug}: rollups of {done}/{total} days (ETA {eta:,.0f}s)")

        spec = DatasetSpec(org_id=organization.pk, spans=wanted, days=90, seed=seed + len(slug))
        generated += generate_dataset(spec, progress=progress, rollup_progress=rollup_progress)
        elapsed = time.monotonic() - started
        log(f"{slug}: {wanted:,} spans with rollups in {elapsed:,.1f}s ({wanted / elapsed:,.0f} spans/s)")
    ingest_org = services.organization_ensure(slug=INGEST_ORG, name=INGEST_ORG)
    user = services.user_ensure(username=f"{INGEST_ORG}-admin", password=PASSWORD)
    services.membership_set(user=user, organization=ingest_org, role=roles["admin"])
    org_ids[INGEST_ORG] = ingest_org.pk
    with connection.cursor() as cursor:
        # I1 starts from an empty organization every run, so runs stay comparable.
        for table in SPAN_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE org_id = %s", [ingest_org.pk])
        cursor.execute("VACUUM ANALYZE")
    return org_ids, generated


def settle_writes() -> None:
    """Writes back what the dataset's load left in memory before anything is timed: after a fresh
    10M load the first scenarios shared the disk with it (14–22 % iowait, a 4.6 s visibility lag)."""
    from django.db import DatabaseError, connection

    started = time.monotonic()
    with connection.cursor() as cursor:
        try:
            cursor.execute("CHECKPOINT")
        except DatabaseError:  # a role without the privilege: the operating system's flush still helps
            pass
    os.sync()
    log(f"load written back in {time.monotonic() - started:,.1f}s (not part of the load time)")


# ---- measuring ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(q * (len(ordered) - 1)))))]


def timings(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 0.50) * 1000, 2),
        "p95_ms": round(percentile(samples, 0.95) * 1000, 2),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
    }


def login(http: Any, url: str, slug: str) -> str:
    response = http.post(f"{url}/api/v1/auth/token", json={"username": f"{slug}-admin", "password": PASSWORD})
    response.raise_for_status()
    access: str = response.json()["access"]
    return access


def run_scenario(http: Any, url: str, scenario: Any, token: str, warmup: int, requests: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}

    def call() -> Any:
        if scenario.method == "GET":
            return http.get(f"{url}{scenario.path}", params=scenario.params, headers=headers)
        return http.post(f"{url}{scenario.path}", json=scenario.body, headers=headers)

    for _ in range(warmup):
        call()
    samples, statuses, cache = [], set(), []
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for _ in range(requests):
        started = time.perf_counter()
        response = call()
        samples.append(time.perf_counter() - started)
        statuses.add(response.status_code)
        cache.append(response.headers.get("X-Cache"))
    wall = time.perf_counter() - wall_start
    return {
        **timings(samples),
        "requests": requests,
        "requests_per_s": round(requests / wall, 1),
        "client_cpu_pct": round((time.process_time() - cpu_start) / wall * 100, 1),
        "statuses": sorted(statuses),
        "x_cache": sorted({c for c in cache if c}),
        "cache_hit_ratio": round(cache.count("HIT") / len(cache), 3),
        "last_body": response.json(),
    }


def warm_cache(http: Any, url: str, scenario: Any, token: str, workers: int) -> None:
    """Until every worker answers from its cache (local memory is per process; Redis is shared)."""
    streak = 0
    for _ in range(500):
        response = http.get(
            f"{url}{scenario.path}", params=scenario.params, headers={"Authorization": f"Bearer {token}"}
        )
        streak = streak + 1 if response.headers.get("X-Cache") == "HIT" else 0
        if streak >= 10 * workers:
            return


def time_floor(sql: str, params: dict[str, Any], runs: int) -> tuple[dict[str, float], list[tuple[Any, ...]]]:
    from django.db import connection

    samples, rows = [], []
    with connection.cursor() as cursor:
        # Warming up is bounded too: S5's floor (~1.3–2.6 s a run) spent 1–2 minutes on 50 warm-ups.
        warm_end = time.perf_counter() + FLOOR_BUDGET_SECONDS / 3
        for warmed in range(1, max(3, runs // 4) + 1):
            cursor.execute(sql, params)
            cursor.fetchall()
            if warmed >= 3 and time.perf_counter() > warm_end:
                break
        budget_end = time.perf_counter() + FLOOR_BUDGET_SECONDS
        for _ in range(runs):
            started = time.perf_counter()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            samples.append(time.perf_counter() - started)
            if started > budget_end and len(samples) >= 20:
                break  # a slow floor needs no 200 samples to be known
    return timings(samples), rows


def query_once(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


# ---- correctness checks ------------------------------------------------------------------------------


def check_s1(body: dict[str, Any], floor_rows: list[tuple[Any, ...]]) -> str:
    api = [(r["timestamp"], r["provider"], r["request_count"], round(r["total_cost"], 6)) for r in body["data"]]
    floor = [(b.isoformat().replace("+00:00", "Z"), p, int(n), round(float(c), 6)) for b, p, n, c in floor_rows]
    return "ok" if api == floor else f"MISMATCH: {len(api)} API rows vs {len(floor)} floor rows"


def check_s3(body: dict[str, Any], floor_rows: list[tuple[Any, ...]]) -> str:
    """The summary against the floor's document: both periods, the top lists and the common errors."""
    import orjson

    document = floor_rows[0][0] if floor_rows else None
    document = orjson.loads(document) if isinstance(document, str | bytes) else document or {}
    periods = {p["current"]: p for p in document.get("periods") or []}
    problems = []
    for name, current in (("current_period", True), ("previous_period", False)):
        got, wanted = body[name], periods.get(current)
        if wanted is None:
            if got["total_requests"] != 0:
                problems.append(f"{name}: no rows in floor")
            continue
        have = (got["total_requests"], round(got["total_cost_usd"], 6), got["unique_users"], got["unique_sessions"])
        want = (wanted["requests"], round(wanted["cost"], 6), wanted["users"], wanted["sessions"])
        if have != want or not math.isclose(got["p95_duration_ms"], wanted["p95"], rel_tol=1e-9):
            problems.append(f"{name}: API {have} p95 {got['p95_duration_ms']} vs floor {want} p95 {wanted['p95']}")
    for ranking, items in body["top_items"].items():
        have_top = [(i["provider"], i["model"], round(float(i["value"]), 6), i["percentage"]) for i in items]
        want_top = [
            (i["provider"], i["model"], round(float(i["value"]), 6), float(i["percentage"]))
            for i in (document.get("top") or {}).get(ranking) or []
        ]
        if have_top != want_top:
            problems.append(f"top_items.{ranking}: API {have_top[:1]} vs floor {want_top[:1]}")
    have_errors = [(e["error_type"], e["count"]) for e in body["quality"]["most_common_errors"]]
    want_errors = [(e["error_type"], e["count"]) for e in document.get("errors") or []]
    if have_errors != want_errors:
        problems.append(f"most_common_errors: API {have_errors[:2]} vs floor {want_errors[:2]}")
    return "ok" if not problems else "MISMATCH: " + "; ".join(problems)


def check_s3_raw(body: dict[str, Any], raw_rows: list[tuple[Any, ...]]) -> str:
    """The summary's current period against the raw spans (S3_CHECK)."""
    (current,) = raw_rows
    got = body["current_period"]
    wanted = (int(current[1]), round(float(current[2] or 0), 6), int(current[6]), int(current[7]))
    have = (got["total_requests"], round(got["total_cost_usd"], 6), got["unique_users"], got["unique_sessions"])
    return "ok" if wanted == have else f"MISMATCH: API {have} vs raw spans {wanted}"


def check_s5(body: dict[str, Any], floor_rows: list[tuple[Any, ...]]) -> str:
    api = [(r["timestamp"], r["model"], r["requests"], round(r["p95"], 3), round(r["cost"], 6)) for r in body["data"]]
    floor = [
        (b.isoformat().replace("+00:00", "Z"), m, int(n), round(float(p), 3), round(float(c), 6))
        for b, m, n, p, c in floor_rows
    ]
    return "ok" if api == floor else f"MISMATCH: {len(api)} API rows vs {len(floor)} floor rows"


def check_s6(body: dict[str, Any]) -> str:
    costs = [r["cost"] for r in body["data"]]
    if not costs or len(costs) > 100 or costs != sorted(costs, reverse=True):
        return f"MISMATCH: {len(costs)} rows, sorted={costs == sorted(costs, reverse=True)}"
    return "ok"


# ---- ingest -------------------------------------------------------------------------------------------


def run_ingest(
    url: str, key: str, token: str, batches: int, clients: int, seed: int = 42, meter: "CpuMeter | None" = None
) -> dict[str, Any]:
    """One I1 run: `batches` protobuf batches of 500 spans from `clients` connections, then
    LAG_PROBES visibility-lag probes. With a `meter` (bench.server.CpuMeter), the CPU a span cost
    gunicorn's processes and PostgreSQL too, from the first batch until the last probe showed (by
    then every earlier span was folded), over every span sent (the probes' included)."""
    import http.client
    from urllib.parse import urlsplit

    from bench.otlp_load import otlp_body

    rng = random.Random(seed)
    bodies = [otlp_body(500, rng) for _ in range(batches)]
    headers = {"content-type": "application/x-protobuf", "x-api-key": key}
    statuses: list[int] = []
    lock = threading.Lock()
    target = urlsplit(url)

    def client(index: int) -> None:
        # The standard library's client: the lightest way to keep the load generator off the CPU.
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=120)
        for body in bodies[index::clients]:
            connection.request("POST", "/v1/traces", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            with lock:
                statuses.append(response.status)
        connection.close()

    if meter is not None:
        meter.start()
    cpu_start, started = time.process_time(), time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    accepted = statuses.count(200) * 500
    client_cpu = time.process_time() - cpu_start
    lags = [visibility_lag(url, key, token) for _ in range(LAG_PROBES)]
    server_cpu: dict[str, float | None] = {}
    if meter is not None:
        worker_seconds, postgres_seconds = meter.stop()
        sent = accepted + LAG_PROBE_SPANS * len(lags)
        server_cpu = {
            "workers_cpu_us_per_span": round(worker_seconds / sent * 1e6, 1),
            "postgres_cpu_us_per_span": None if postgres_seconds is None else round(postgres_seconds / sent * 1e6, 1),
        }
    return {
        "spans": accepted,
        "batches": batches,
        "clients": clients,
        "spans_per_s": round(accepted / wall),
        "client_cpu_pct": round(client_cpu / wall * 100, 1),
        "visibility_lag_ms_max": round(max(lags) * 1000, 1),
        "visibility_lag_ms_median": round(statistics.median(lags) * 1000, 1),
        "all_accepted": accepted == batches * 500,
        **server_cpu,
    }


def ingest_runs(
    url: str, key: str, token: str, batches: int, runs: int, meter: "CpuMeter | None" = None
) -> dict[str, Any]:
    """I1 `runs` times, each with spans of its own: the run with the median rate, the others' rates
    beside it, and the lag and acceptance over all of them.

    One burst lasts a few seconds, and a background job of the database (autovacuum of the day's
    partition, a checkpoint) landing in it or not moved one run's rate by 10-20 % here.
    """
    each = [run_ingest(url, key, token, batches, clients=4, seed=42 + run, meter=meter) for run in range(runs)]
    median = sorted(each, key=lambda result: result["spans_per_s"])[len(each) // 2]
    per_run = {
        f"runs_{figure}": [result[figure] for result in each]
        for figure in ("spans_per_s", "workers_cpu_us_per_span", "postgres_cpu_us_per_span")
        if figure in median
    }
    return {
        **median,
        **per_run,
        "visibility_lag_ms_max": max(result["visibility_lag_ms_max"] for result in each),
        "all_accepted": all(result["all_accepted"] for result in each),
    }


def visibility_lag(url: str, key: str, token: str) -> float:
    """Seconds from a batch's acknowledgment until GET /metrics counts all of it."""
    from bench.client import Client
    from bench.otlp_load import otlp_body

    model = f"lag-probe-{uuid.uuid4().hex[:8]}"
    body = otlp_body(LAG_PROBE_SPANS, random.Random(), model=model)
    with Client(timeout=60) as http:
        http.post(
            f"{url}/v1/traces", content=body, headers={"content-type": "application/x-protobuf", "x-api-key": key}
        )
        acknowledged = time.perf_counter()
        while time.perf_counter() - acknowledged < 30:
            response = http.get(
                f"{url}/api/v1/metrics",
                params={"metrics": "request_count", "interval": "1day", "model": model},
                headers={"Authorization": f"Bearer {token}"},
            )
            if sum(r["request_count"] for r in response.json()["data"]) >= LAG_PROBE_SPANS:
                return time.perf_counter() - acknowledged
    return float("inf")


# ---- the run ------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "python_loop_ms": python_loop_ms(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded (pgserver)",
        "cache": "redis" if os.environ.get("REDIS_URL") else "local memory",
    }


def cpu_model() -> str:
    """The processor's name as the kernel reports it (a VM's vendor and family at least)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        return ""


def python_loop_ms() -> float:
    """The best of five runs of a fixed loop of dict and string work, the kind the workers do.

    The VMs behind these runs differ from session to session by 2-3× in speed: this figure
    says how fast a run's machine was, to set figures from different machines side by side.
    """
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for number in range(500_000):
            len({"key": number, "text": str(number)})
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def machine_commit() -> str:
    """The commit whose code this run loaded (read at the start: HEAD may move during a long run)."""
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip()


def postmaster() -> "psutil.Process | None":
    """The benchmark database's postmaster when it runs on this machine (bench.server.postmaster_of)."""
    from django.db import DatabaseError, connection

    from bench.server import postmaster_of

    try:
        with connection.cursor() as cursor:
            # Reading data_directory needs a superuser or pg_read_all_settings: without, no figure.
            cursor.execute("SELECT pg_backend_pid(), current_setting('data_directory')")
            backend_pid, data_directory = cursor.fetchone()
    except DatabaseError:
        return None
    return postmaster_of(backend_pid, data_directory)


def run_cached(env: dict[str, str], args: argparse.Namespace, s1: Any) -> tuple[dict[str, Any], int]:
    """S7: S1 again from a warm cache, on a server of its own with caching on; its result and the
    server's peak worker RSS."""
    from bench.client import Client
    from bench.server import Server

    with Server(env, args.workers) as server, Client(timeout=120) as http:
        token = login(http, server.url, "bench-large")
        warm_cache(http, server.url, s1, token, args.workers)
        result = run_scenario(http, server.url, s1, token, args.warmup, args.requests)
        result.pop("last_body")
        # Redis is shared by all workers: every request must hit. Local memory is per worker and
        # sync workers take a new connection per request, so an odd worker may still miss.
        wanted = 1.0 if os.environ.get("REDIS_URL") else 0.9
        ratio = result["cache_hit_ratio"]
        result["check"] = "ok" if ratio >= wanted else f"MISMATCH: cache hit ratio {ratio} < {wanted}"
        return result, server.peak_worker_rss


def lowest_s1_over_floor(results: dict[str, Any]) -> dict[str, float]:
    """The lowest S1 ÷ floor this machine allows, by what S1 must cost besides its statement (the
    floor's, at best): every answer's HTTP path (H0), and every authenticated answer's work (S7: the
    same question answered from the cache, with the JWT, membership and rate-limit checks the SPEC
    asks of every request, but no statement)."""
    floor_p50 = max(results["S1"]["floor"]["p50_ms"], 0.01)
    return {
        name: round((floor_p50 + results[name]["p50_ms"]) / floor_p50, 2) for name in ("H0", "S7") if name in results
    }


SCENARIO_NAMES = ("S1", "S2", "S3", "S4", "S5", "S6", "I1", "S7")


def scenario_names(text: str) -> tuple[str, ...]:
    """--scenarios: names from SCENARIO_NAMES, comma-separated."""
    names = tuple(name.strip().upper() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in SCENARIO_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {','.join(SCENARIO_NAMES)} (got {text!r})")
    return names


def main() -> int:  # noqa: C901 - a script reads best top to bottom
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) + 1)
    parser.add_argument("--ingest-batches", type=int, default=200)
    parser.add_argument("--ingest-runs", type=int, default=3, help="I1 runs; the report gives the median one")
    parser.add_argument("--smoke", action="store_true", help="tiny and strict: fail on any wrong answer")
    parser.add_argument(
        "--scenarios",
        type=scenario_names,
        default=SCENARIO_NAMES,
        help=f"a comma-separated subset of {','.join(SCENARIO_NAMES)} to run, e.g. I1 (default: all)",
    )
    args = parser.parse_args()
    data_dir = data_dir_for(args.spans)
    setup_django(data_dir)
    from accounts import services
    from accounts.models import Organization
    from bench.client import Client
    from bench.scenarios import HTTP_PATH, S1_CHECK, S3_CHECK, scenarios
    from bench.server import CpuMeter, Server, server_env

    code_commit = machine_commit()
    log(f"dataset: {args.spans:,} spans over 90 days in 3 organizations (code of commit {code_commit})")
    load_started = time.monotonic()
    org_ids, generated = prepare_dataset(args.spans, args.seed)
    load_seconds = time.monotonic() - load_started
    settle_writes()
    large = org_ids["bench-large"]
    key = services.api_key_issue(
        organization=Organization.objects.get(pk=org_ids[INGEST_ORG]),
        name=f"bench-{uuid.uuid4().hex[:6]}",
        scopes=["spans:write"],
    ).secret
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    every_scenario = scenarios(end)
    s1 = every_scenario[0]  # S7 asks S1's question again, cached
    plan = [scenario for scenario in every_scenario if scenario.name in args.scenarios]
    if "S1" in args.scenarios:
        plan.insert(plan.index(s1) + 1, HTTP_PATH)
    results: dict[str, Any] = {}
    failures: list[str] = []
    env_args = (os.environ.get("DATABASE_URL"), data_dir)
    with Server(server_env(*env_args, cache_ttl=0), args.workers) as server, Client(timeout=120) as http:
        token = login(http, server.url, "bench-large")
        for scenario in plan:
            log(f"{scenario.name}: {scenario.title}")
            result = run_scenario(http, server.url, scenario, token, args.warmup, args.requests)
            body = result.pop("last_body")
            if result["statuses"] != [200]:
                failures.append(f"{scenario.name} answered {result['statuses']}")
            if scenario.floor_sql:
                start, stop = scenario.time_range
                params = {"org_id": large, "start": start, "end": stop}
                floor, rows = time_floor(scenario.floor_sql, params, args.requests)
                result["floor"] = floor
                result["api_over_floor"] = round(result["p50_ms"] / max(floor["p50_ms"], 0.01), 2)
                checker = {"S1": check_s1, "S3": check_s3, "S5": check_s5}[scenario.name]
                result["check"] = checker(body, rows)
                # The floors read the rollups the API reads: S1 and S3 are also checked against raw spans once.
                if scenario.name == "S1" and result["check"] == "ok":
                    result["check"] = check_s1(body, query_once(S1_CHECK, params))
                if scenario.name == "S3" and result["check"] == "ok":
                    result["check"] = check_s3_raw(body, query_once(S3_CHECK, params))
            elif scenario.name == "S6":
                result["check"] = check_s6(body)
            elif scenario is HTTP_PATH:
                result["check"] = "ok" if body == {"status": "ok"} else f"MISMATCH: {body!r}"
            else:
                result["check"] = "ok" if body else "MISMATCH: empty"
            if result["check"] != "ok":
                failures.append(f"{scenario.name}: {result['check']}")
            results[scenario.name] = result
        if "I1" in args.scenarios:
            log(f"I1: OTLP protobuf ingest, {args.ingest_batches} batches of 500, 4 clients, {args.ingest_runs} runs")
            ingest_token = login(http, server.url, INGEST_ORG)
            results["I1"] = ingest_runs(
                server.url,
                key,
                ingest_token,
                args.ingest_batches,
                args.ingest_runs,
                meter=CpuMeter(server, postmaster()),
            )
            if not results["I1"]["all_accepted"]:
                failures.append("I1: not every batch was accepted")
            if not results["I1"]["workers_cpu_us_per_span"] > 0:
                failures.append("I1: the workers were seen using no CPU (bench.server.CpuMeter is broken)")
            if results["I1"]["postgres_cpu_us_per_span"] is None and not os.environ.get("DATABASE_URL"):
                failures.append("I1: the embedded PostgreSQL's CPU was not seen (bench.server.postmaster_of)")
        peak_rss = server.peak_worker_rss
    if "S7" in args.scenarios:
        log("S7: S1 from a warm cache")
        results["S7"], s7_peak_rss = run_cached(server_env(*env_args, cache_ttl=300), args, s1)
        if results["S7"]["check"] != "ok":
            failures.append(f"S7: {results['S7']['check']}")
        peak_rss = max(peak_rss, s7_peak_rss)
    if "S1" in results:
        results["S1"]["api_over_floor_lowest"] = lowest_s1_over_floor(results)
    report = {
        "date": datetime.now(UTC).isoformat(),
        "machine": {**machine(), "commit": code_commit},
        "dataset": {
            "spans": args.spans,
            "days": 90,
            "organizations": len(ORG_SHARES),
            "seed": args.seed,
            "generated_now": generated,  # 0: reused from an earlier run, whose log gave the load rate
            "load_seconds": round(load_seconds, 1),
            "load_spans_per_s": round(generated / load_seconds) if generated else None,
        },
        "server": {"workers": args.workers, "peak_worker_rss_mb": round(peak_rss / 2**20, 1)},
        "results": results,
        "failures": failures,
    }
    print_table(report)
    out = ROOT / "bench" / "results" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}{'-smoke' if args.smoke else ''}.json"
    out.write_text(json.dumps(report, indent=2))
    log(f"written {out.relative_to(ROOT)}")
    if failures:
        log("FAILED: " + "; ".join(failures))
        return 1
    return 0


def print_ingest(ingest: dict[str, Any], cores: int) -> None:
    print(
        f"I1       {ingest['spans_per_s']:,} spans/s accepted, the median of "
        f"{' / '.join(f'{rate:,}' for rate in ingest['runs_spans_per_s'])} ({ingest['clients']} clients, "
        f"client CPU {ingest['client_cpu_pct']}%), visibility lag max {ingest['visibility_lag_ms_max']} ms"
    )
    if ingest.get("postgres_cpu_us_per_span") is not None:
        # 20,000 spans/s (the target) on `cores` cores leaves cores × 50 µs of CPU a span for everything.
        print(
            f"         CPU a span in that run: workers {ingest['workers_cpu_us_per_span']} µs, PostgreSQL "
            f"{ingest['postgres_cpu_us_per_span']} µs (20,000 spans/s on {cores} cores leaves {cores * 50} µs)"
        )


def print_table(report: dict[str, Any]) -> None:
    print()
    timed = {name: result for name, result in report["results"].items() if name != "I1"}
    if timed:
        header = f"{'scenario':<9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}{'floor p50':>11}{'API/floor':>10}"
        print(f"{header}  check")
    for name, result in timed.items():
        floor = result.get("floor", {}).get("p50_ms", "")
        ratio = result.get("api_over_floor", "")
        print(
            f"{name:<9}{result['p50_ms']:>9}{result['p95_ms']:>9}{result['p99_ms']:>9}{result['requests_per_s']:>8}"
            f"{floor:>11}{ratio:>10}  {result['check']}"
        )
    lowest = report["results"].get("S1", {}).get("api_over_floor_lowest")
    if lowest:
        bounds = ", ".join(f"{ratio} with {name}" for name, ratio in lowest.items())
        print(f"S1 ÷ floor can be no lower than (floor p50 + p50 of H0 or S7) ÷ floor p50: {bounds} (target 1.5)")
    ingest = report["results"].get("I1")
    if ingest:
        print_ingest(ingest, report["machine"]["cores"])
    print(
        f"dataset  {report['dataset']['spans']:,} spans, "
        + (
            f"loaded in {report['dataset']['load_seconds']}s ({report['dataset']['load_spans_per_s']:,} spans/s); "
            if report["dataset"]["generated_now"]
            else "reused from an earlier run; "
        )
        + f"peak worker RSS {report['server']['peak_worker_rss_mb']} MB"
    )
    machine_info = report["machine"]
    print(
        f"machine  {machine_info['cpu_model'] or machine_info['cpu']}, Python loop {machine_info['python_loop_ms']} ms"
    )
    print()


if __name__ == "__main__":
    sys.exit(main())
