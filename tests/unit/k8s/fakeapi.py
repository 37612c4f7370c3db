"""A scripted API server on loopback for the client's unit tests (fixtures in conftest.py).

The client is tested over real HTTP (aiohttp on 127.0.0.1) rather than with a patched session:
headers, content types, query strings and status codes then go through the same code as in
production. Tests either queue canned replies or install a handler of their own.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web


@dataclasses.dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


Handler = Callable[[Seen], Awaitable[web.Response]]


@dataclasses.dataclass
class FakeApi:
    server: str = ""
    requests: list[Seen] = dataclasses.field(default_factory=list)
    replies: deque[tuple[int, Any, dict[str, str]]] = dataclasses.field(default_factory=deque)
    handler: Handler | None = None

    def reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """Queue one reply; without queued replies the server answers 200 ``{}``."""
        self.replies.append((status, body if body is not None else {}, headers or {}))

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        seen = Seen(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=json.loads(raw) if raw else None,
        )
        self.requests.append(seen)
        if self.handler is not None:
            return await self.handler(seen)
        status, body, headers = self.replies.popleft() if self.replies else (200, {}, {})
        return web.json_response(body, status=status, headers=headers)


def status_body(code: int, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }
