"""The benchmark's HTTP client: the standard library's, kept alive, so the client costs little.

httpx took ~1.2 ms of client CPU per request (a third of a cached answer's latency at the
time); http.client takes ~0.15 ms. The server closes connections after each response when
it runs sync workers; http.client then reconnects on the next request by itself.
"""

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass
class Response:
    status_code: int
    headers: Any  # http.client's message: case-insensitive .get()
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self.content[:200]!r}")


class Client:
    def __init__(self, timeout: float = 120) -> None:
        self.timeout = timeout
        self._connections: dict[tuple[str, int], http.client.HTTPConnection] = {}

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        for connection in self._connections.values():
            connection.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        target = urlsplit(url)
        address = (target.hostname or "127.0.0.1", target.port or 80)
        connection = self._connections.get(address)
        if connection is None:
            connection = self._connections[address] = http.client.HTTPConnection(*address, timeout=self.timeout)
        path = target.path + (f"?{urlencode(params)}" if params else "")
        sent_headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body).encode()
            sent_headers["content-type"] = "application/json"
        try:
            connection.request(method, path, body=content, headers=sent_headers)
            response = connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            connection.close()  # the server dropped an idle kept-alive connection: once more, fresh
            connection.request(method, path, body=content, headers=sent_headers)
            response = connection.getresponse()
        return Response(response.status, response.headers, response.read())

    def get(self, url: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", url, params=params, headers=headers)

    def post(
        self,
        url: str,
        json: Any = None,  # noqa: A002 - the same keyword as httpx and requests
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        return self.request("POST", url, json_body=json, content=content, headers=headers)
