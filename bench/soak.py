"""Sustained ingest at a steady rate, with the visibility lag probed throughout.

    python -m bench.soak [--spans 1000000] [--rate 3000] [--seconds 150]

I1 measures a burst and probes the lag only after it; a stall that comes now and then under
steady ingest (a VACUUM holding folds back 3-5 s every few minutes, found this way) shows only
here. Two clients send OTLP batches of 250 spans at `--rate` spans/s in all, into the
benchmark's ingest organization, on the benchmark's database for `--spans` (loaded first if
missing, as `make bench` does), while a third asks every ~1.5 s how long a new batch takes to
show in GET /metrics. Prints the rate reached, the lags and every one over a second.

Every span is new (a re-sent one is stored and folded as nothing), so the batches are made
before the clock starts: ~83 kB and ~6 ms each, 150 MB for the default run.

`--sessions per-span` gives every span a session of its own, as an instrumentation sending a
call's id as `session.id` does: each is a new identity to number and remember. The soak also
fails when a worker's memory passes the 300 MB target.
"""

import argparse
import http.client
import math
import os
import random
import statistics
import threading
import time
import uuid

from bench.run import (
    INGEST_ORG,
    data_dir_for,
    log,
    login,
    percentile,
    prepare_dataset,
    setup_django,
    visibility_lag,
)

BATCH_SPANS = 250
CLIENTS = 2
PROBE_PAUSE_SECONDS = 1.5
WORKER_RSS_LIMIT_MB = 300


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=1_000_000, help="the benchmark dataset to ingest beside")
    parser.add_argument("--rate", type=int, default=3000, help="spans per second, in all")
    parser.add_argument("--seconds", type=int, default=150)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) + 1)
    parser.add_argument("--sessions", choices=["recurring", "per-span"], default="recurring")
    args = parser.parse_args()
    setup_django(data_dir_for(args.spans))
    import httpx
    from django.db import connection

    from accounts import services
    from accounts.models import Organization
    from bench.otlp_load import otlp_body
    from bench.server import Server, server_env

    prepare_dataset(args.spans, seed=1)  # also empties the ingest organization
    organization = Organization.objects.get(slug=INGEST_ORG)
    key = services.api_key_issue(
        organization=organization, name=f"soak-{uuid.uuid4().hex[:6]}", scopes=["spans:write"]
    ).secret
    rng = random.Random(7)
    per_span = args.sessions == "per-span"
    batches = math.ceil(args.rate * args.seconds / BATCH_SPANS) + CLIENTS
    bodies = [otlp_body(BATCH_SPANS, rng, session_per_span=per_span) for _ in range(batches)]
    headers = {"content-type": "application/x-protobuf", "x-api-key": key}
    statuses: list[int] = []
    lock = threading.Lock()

    environment = server_env(os.environ.get("DATABASE_URL"), data_dir_for(args.spans), cache_ttl=0)
    with Server(environment, args.workers) as server:
        with httpx.Client() as web:
            token = login(web, server.url, INGEST_ORG)
        started = time.monotonic()
        stop = started + args.seconds

        def client(index: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            pause = BATCH_SPANS * CLIENTS / args.rate
            due = time.monotonic()
            for body in bodies[index::CLIENTS]:
                if time.monotonic() >= stop:
                    break
                connection.request("POST", "/v1/traces", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                with lock:
                    statuses.append(response.status)
                due += pause
                time.sleep(max(0.0, due - time.monotonic()))
            connection.close()

        threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
        for thread in threads:
            thread.start()
        lags: list[tuple[float, float]] = []  # (seconds into the run, lag in ms)
        time.sleep(3)  # past the first batches' folds
        while time.monotonic() < stop - 3:
            lag = visibility_lag(server.url, key, token)
            lags.append((round(time.monotonic() - started, 1), round(lag * 1000, 1)))
            time.sleep(PROBE_PAUSE_SECONDS)
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        peak_rss_mb = server.peak_worker_rss / 2**20

    accepted = statuses.count(200) * BATCH_SPANS
    with connection.cursor() as cursor:  # the probes' spans (500 each) are stored there too
        cursor.execute("SELECT count(*) FROM llm_traces WHERE org_id = %s", [organization.pk])
        stored = cursor.fetchone()[0] - 500 * len(lags)
    values = [lag for _, lag in lags]
    log(f"{accepted:,} spans accepted in {elapsed:.0f} s ({accepted / elapsed:,.0f}/s), {stored:,} of them stored new")
    log(
        f"visibility lag over {len(values)} probes: median {statistics.median(values):,.0f} ms,"
        f" p95 {percentile(values, 0.95):,.0f} ms, max {max(values):,.0f} ms"
    )
    slow = [(at, lag) for at, lag in lags if lag > 1000]
    log(f"over 1 s: {slow if slow else 'none'}")
    log(f"peak worker RSS {peak_rss_mb:,.1f} MB (target {WORKER_RSS_LIMIT_MB} MB)")
    all_accepted = statuses.count(200) == len(statuses)
    return 0 if all_accepted and not slow and peak_rss_mb <= WORKER_RSS_LIMIT_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
