"""/v1/traces refusals: each a 4xx carrying a google.rpc.Status in the request's encoding."""

import gzip
import json
import time

import orjson
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from rest_framework.test import APIClient

from accounts import services
from metrics.ingest import otlp
from tests.metrics import otel_helpers
from tests.metrics.factories import stored_spans

URL = "/v1/traces"
PROTOBUF = "application/x-protobuf"

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(api_key_client) -> APIClient:
    return api_key_client(["spans:write"])


def status_of(response) -> status_pb2.Status:
    if response["Content-Type"] == PROTOBUF:
        return status_pb2.Status.FromString(response.content)
    body = orjson.loads(response.content)
    return status_pb2.Status(code=body.get("code", 0), message=body.get("message", ""))


def test_malformed_protobuf_is_400_with_a_protobuf_status(writer, org):
    response = writer.post(URL, data=b"\xff\xfe not protobuf \x00\x01", content_type=PROTOBUF)
    assert response.status_code == 400
    assert response["Content-Type"] == PROTOBUF
    assert "not a valid OTLP" in status_of(response).message
    assert stored_spans(org.pk) == []


def test_malformed_json_is_400_with_a_json_status(writer):
    response = writer.post(URL, data=b"{nope", content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert status_of(response).message == "the body is not valid JSON"


@pytest.mark.parametrize(
    "document", [[], {"resourceSpans": {}}, {"resourceSpans": [1]}], ids=["array", "object-not-list", "number-entry"]
)
def test_json_of_the_wrong_shape_is_400(writer, document):
    response = writer.post(URL, data=orjson.dumps(document), content_type="application/json")
    assert response.status_code == 400


def test_a_wrong_content_type_is_415(writer):
    response = writer.post(URL, data=b"x", content_type="text/plain")
    assert response.status_code == 415


def test_an_empty_export_is_200(writer):
    response = writer.post(URL, data=b"", content_type=PROTOBUF)
    assert response.status_code == 200
    assert response.content == b""


def test_a_10_mb_body_is_413(writer):
    response = writer.post(URL, data=b"\x0a" * (10 * 1024 * 1024), content_type=PROTOBUF)
    assert response.status_code == 413
    assert "larger than the limit" in status_of(response).message


def test_a_gzip_bomb_is_413(writer, settings):
    settings.INGEST_MAX_DECOMPRESSED_BYTES = 1024 * 1024
    response = writer.post(
        URL, data=gzip.compress(b"\x00" * (8 * 1024 * 1024)), content_type=PROTOBUF, HTTP_CONTENT_ENCODING="gzip"
    )
    assert response.status_code == 413


def test_corrupt_gzip_is_400(writer):
    response = writer.post(URL, data=b"not gzip", content_type=PROTOBUF, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400


def test_too_many_spans_is_413(writer, settings):
    settings.INGEST_MAX_SPANS = 2
    body = otel_helpers.otlp_protobuf(otel_helpers.captured_spans(count=3))
    assert writer.post(URL, data=body, content_type=PROTOBUF).status_code == 413


def test_no_key_is_401(db):
    body = otel_helpers.otlp_protobuf(otel_helpers.captured_spans(count=1))
    response = APIClient().post(URL, data=body, content_type=PROTOBUF)
    assert response.status_code == 401
    assert response["Content-Type"] == PROTOBUF
    assert status_of(response).code == 16  # UNAUTHENTICATED


def test_a_revoked_key_is_401(org):
    issued = services.api_key_issue(organization=org, name="old", scopes=["spans:write"])
    services.api_key_revoke(api_key=issued.api_key)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=issued.secret)
    body = otel_helpers.otlp_protobuf(otel_helpers.captured_spans(count=1))
    assert client.post(URL, data=body, content_type=PROTOBUF).status_code == 401
    assert stored_spans(org.pk) == []


def test_a_key_without_spans_write_is_403(api_key_client, org):
    body = otel_helpers.otlp_protobuf(otel_helpers.captured_spans(count=1))
    response = api_key_client(["metrics:read"]).post(URL, data=body, content_type=PROTOBUF)
    assert response.status_code == 403
    assert status_of(response).code == 7  # PERMISSION_DENIED
    assert stored_spans(org.pk) == []


def test_the_bearer_header_works_too(api_key_client, org):
    body = otel_helpers.otlp_protobuf(otel_helpers.captured_spans(count=1))
    client = api_key_client(["spans:write"], header="authorization")
    assert client.post(URL, data=body, content_type=PROTOBUF).status_code == 200
    assert len(stored_spans(org.pk)) == 1


def test_json_values_outside_their_proto_type_are_read_as_absent():
    def attribute(value) -> dict:
        return {"key": "k", "value": value}

    span = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "startTimeUnixNano": str(2**64),  # a fixed64 past its range
        "attributes": [attribute({"intValue": str(2**63)})],
        "events": [{"name": "e", "attributes": [attribute({"doubleValue": "not a number"})]}],
    }
    resource = {"attributes": [attribute({"stringValue": 2**70}), {"key": "b", "value": {"boolValue": "yes"}}]}
    document = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    (decoded,) = otlp.decode_json(json.dumps(document).encode())  # orjson cannot write integers past 64 bits
    assert decoded.start_ns == 0
    assert decoded.attributes == {"k": None}
    assert decoded.events[0].attributes == {"k": None}
    assert decoded.resource == {"k": None, "b": None}


def _deep_value(levels: int) -> dict:
    value: dict = {"stringValue": "bottom"}
    for _ in range(levels):
        value = {"arrayValue": {"values": [value]}}
    return value


def _depth(value) -> int:
    return 1 + _depth(value[0]) if isinstance(value, list) else 0


def test_attribute_values_nested_past_16_levels_are_cut_there_in_both_encodings(writer, org):
    now = time.time_ns()
    span = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId": "00f067aa0ba902b7",
        "name": "chat",
        "startTimeUnixNano": str(now),
        "endTimeUnixNano": str(now + 10**9),
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
            {"key": "deep", "value": _deep_value(40)},
            {"key": "shallow", "value": _deep_value(16)},
        ],
    }
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    as_json = otlp.decode_json(json.dumps(document).encode())[0].attributes
    message = json_format.ParseDict(document, trace_service_pb2.ExportTraceServiceRequest())
    as_protobuf = otlp.decode_protobuf(message.SerializeToString())[0].attributes
    for attributes in (as_json, as_protobuf):
        assert _depth(attributes["deep"]) == 16 and attributes["shallow"] == [[[[[[[[[[[[[[[["bottom"]]]]]]]]]]]]]]]]
    # 300 levels: past what orjson writes (255), which is how the attributes are stored
    span["attributes"][2]["value"] = _deep_value(300)
    response = writer.post(URL, data=json.dumps(document).encode(), content_type="application/json")
    assert response.status_code == 200, response.content
    assert _depth(stored_spans(org.pk)[0]["attributes"]["span"]["deep"]) == 16


def test_protobuf_attribute_values_of_every_kind_are_read_as_sent():
    # given: a span with one attribute of every kind, the empty and zero ones among them
    cases = {
        "text": (common_pb2.AnyValue(string_value="gpt-4o"), "gpt-4o"),
        "empty text": (common_pb2.AnyValue(string_value=""), ""),
        "int": (common_pb2.AnyValue(int_value=-(2**63)), -(2**63)),
        "zero": (common_pb2.AnyValue(int_value=0), 0),
        "double": (common_pb2.AnyValue(double_value=0.25), 0.25),
        "zero double": (common_pb2.AnyValue(double_value=0.0), 0.0),
        "true": (common_pb2.AnyValue(bool_value=True), True),
        "false": (common_pb2.AnyValue(bool_value=False), False),
        "bytes": (common_pb2.AnyValue(bytes_value=b"\x00\xff"), "AP8="),
        "unset": (common_pb2.AnyValue(), None),
        "list": (
            common_pb2.AnyValue(
                array_value=common_pb2.ArrayValue(
                    values=[common_pb2.AnyValue(string_value="a"), common_pb2.AnyValue(int_value=0)]
                )
            ),
            ["a", 0],
        ),
        "map": (
            common_pb2.AnyValue(
                kvlist_value=common_pb2.KeyValueList(
                    values=[common_pb2.KeyValue(key="k", value=common_pb2.AnyValue(string_value=""))]
                )
            ),
            {"k": ""},
        ),
    }
    message = trace_service_pb2.ExportTraceServiceRequest()
    span = message.resource_spans.add().scope_spans.add().spans.add()
    span.attributes.extend(common_pb2.KeyValue(key=key, value=value) for key, (value, _) in cases.items())
    # when
    (decoded,) = otlp.decode_protobuf(message.SerializeToString())
    # then: each value as sent, of its own type (0 is not False, 0.0 is a float)
    expected = {key: value for key, (_, value) in cases.items()}
    assert decoded.attributes == expected
    assert [type(v) for v in decoded.attributes.values()] == [type(v) for v in expected.values()]
