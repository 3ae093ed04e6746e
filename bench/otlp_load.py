"""OTLP ingest load: protobuf batches of 500 GenAI spans from concurrent clients; prints spans/s.

Usage: python bench/otlp_load.py --url http://127.0.0.1:8000 --key obs_... [--clients 4 --batches 200]
"""

import argparse
import random
import threading
import time

import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-3-5-sonnet"),
    ("google", "gemini-2.0-flash"),
    ("mistral", "mistral-large-latest"),
    ("deepseek", "deepseek-chat"),
]


def _kv(key: str, value: str | int) -> common_pb2.KeyValue:
    item = common_pb2.KeyValue(key=key)
    if isinstance(value, str):
        item.value.string_value = value
    else:
        item.value.int_value = value
    return item


def otlp_body(spans: int, rng: random.Random, model: str | None = None, session_per_span: bool = False) -> bytes:
    """One ExportTraceServiceRequest of `spans` chat spans from the last minute (all of `model` if
    given). Sessions come from 20,000, or are new with every span (`session_per_span`: an
    instrumentation sending a call's id as the session's)."""
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [_kv("service.name", "bench"), _kv("deployment.environment.name", rng.choice(["production", "staging"]))]
    )
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "opentelemetry.instrumentation.openai_v2"
    now = time.time_ns()
    for _ in range(spans):
        span = scope_spans.spans.add()
        span.trace_id, span.span_id = rng.randbytes(16), rng.randbytes(8)
        span.name = "chat"
        span.start_time_unix_nano = now - rng.randint(0, 60 * 10**9)
        span.end_time_unix_nano = span.start_time_unix_nano + rng.randint(10**8, 10**10)
        provider, chosen = rng.choice(MODELS)
        chosen = model or chosen
        span.attributes.extend(
            [
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.provider.name", provider),
                _kv("gen_ai.request.model", chosen),
                _kv("gen_ai.response.model", chosen),
                _kv("gen_ai.usage.input_tokens", rng.randint(10, 5000)),
                _kv("gen_ai.usage.output_tokens", rng.randint(10, 1000)),
                _kv("user.id", f"user-{rng.randint(1, 2000)}"),
                _kv(
                    "session.id",
                    f"call-{rng.getrandbits(64):016x}" if session_per_span else f"session-{rng.randint(1, 20000)}",
                ),
            ]
        )
    return request.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", type=int, default=200, help="batches in all")
    parser.add_argument("--spans", type=int, default=500, help="spans per batch")
    args = parser.parse_args()
    rng = random.Random(1)
    bodies = [otlp_body(args.spans, rng) for _ in range(args.batches)]
    headers = {"content-type": "application/x-protobuf", "x-api-key": args.key}
    statuses: list[int] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        with httpx.Client(timeout=60) as http:
            for body in bodies[index :: args.clients]:
                response = http.post(f"{args.url}/v1/traces", content=body, headers=headers)
                with lock:
                    statuses.append(response.status_code)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ok = statuses.count(200)
    print(f"{ok}/{len(statuses)} batches accepted; {ok * args.spans / elapsed:,.0f} spans/s over {elapsed:.1f}s")


if __name__ == "__main__":
    main()
