"""Fixtures for the cloud unit tests: a loopback server that records what the SDK sends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    port: int
    requests: list[Captured] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """An HTTP server on 127.0.0.1 that records every request and answers ``{"RequestId": …}``."""
    captured: list[Captured] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            captured.append(
                Captured(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            payload = json.dumps({"RequestId": "REQ-1"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield Recorder(port=server.server_address[1], requests=captured)
    server.shutdown()
    server.server_close()
