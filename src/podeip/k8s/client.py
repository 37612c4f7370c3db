"""The operator's one Kubernetes API client: JSON over aiohttp, throttled, retried, counted.

kopf owns the watches; everything the reconcilers read and write goes through this client, so
that ``podeip.reconcile`` stays free of kopf and every write is visible in one place. It is
created once by the composition root inside the running loop, passed explicitly, and closed on
cleanup (``async with`` or :meth:`KubeClient.close`).

Policies, each in one place:

* **Throttling.** One token bucket (``kube_client_qps``/``kube_client_burst``, AENC's
  kubeClientQPS/Burst) in front of every request, reads included, as client-go does.
* **Retries.** A 429 is retried for every verb (the server rejected it before doing anything),
  honouring ``Retry-After``. A 5xx or a broken connection is retried only for reads: a write
  may have been applied before the failure, and the caller's reconcile loop, which re-reads
  state, is the right place to decide again. A refused connection is retried for every verb.
* **Counting.** ``podeip_kube_api_requests_total{verb,resource,code}`` counts every attempt;
  the benchmark derives "API writes per pod" from it.
* **Errors.** Failures raise the typed classes of :mod:`podeip.k8s.errors`.
* **Credentials.** Each request uses the connection's current identity
  (:mod:`podeip.k8s.connection`: loaded again when due, in a worker thread since a plugin may
  run); a 401 loads it again once and repeats the request.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import ssl
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Literal

import aiohttp

from podeip import __version__
from podeip.k8s.connection import Identity, KubeConfigError, KubeConnection
from podeip.k8s.errors import ApiError, Unauthorized, Unavailable, error_for
from podeip.k8s.throttling import TokenBucket
from podeip.observability.metrics import Metrics

PatchType = Literal["merge", "strategic", "json"]
Body = dict[str, Any]
Items = list[dict[str, Any]]

_PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=5, sock_read=20)


def resource_of(path: str) -> str:
    """The metric label for a request path: ``pods``, ``pods/status``, ``podeips``, ``leases``."""
    parts = [part for part in path.split("?", 1)[0].split("/") if part]
    # Drop "/api/v1" or "/apis/<group>/<version>".
    parts = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if len(parts) >= 3 and parts[0] == "namespaces":
        parts = parts[2:]
    if not parts:
        return "unknown"
    return parts[0] if len(parts) < 3 else f"{parts[0]}/{parts[2]}"


class KubeClient:
    """JSON in, JSON out. Paths are absolute API paths (``/api/v1/namespaces/x/pods/y``)."""

    def __init__(
        self,
        connection: KubeConnection,
        *,
        qps: float,
        burst: int,
        metrics: Metrics | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        backoff_cap_seconds: float = 5.0,
    ) -> None:
        self._connection = connection
        self._bucket = TokenBucket(rate=qps, burst=burst)
        self._metrics = metrics
        self._max_retries = max_retries
        self._backoff_cap = backoff_cap_seconds
        #: The TLS context of the identity's TLS material (rebuilt when a plugin changes it).
        self._tls: tuple[object, ssl.SSLContext | bool] = (None, False)
        self._session = aiohttp.ClientSession(
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": f"podeip-operator/{__version__}"},
        )

    async def close(self) -> None:
        await self._session.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- verbs ---------------------------------------------------------------------------

    async def get(self, path: str) -> Body:
        return await self._request("GET", path, verb="get")

    async def list(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> Items:
        """All items of a collection, following ``continue`` tokens. Items get the ``kind`` and
        ``apiVersion`` that the API server leaves out of list items."""
        items: Items = []
        async for page, _ in self.pages(
            path, label_selector=label_selector, field_selector=field_selector, page_size=page_size
        ):
            items.extend(page)
        return items

    async def pages(
        self,
        path: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> AsyncIterator[tuple[Items, str]]:
        """The pages of a collection, one at a time (so that a caller keeps only what it needs),
        each with the listing's ``resourceVersion`` (one snapshot for every page of a listing)."""
        params: dict[str, str] = {"limit": str(page_size)}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        while True:
            page = await self._request("GET", path, verb="list", params=params)
            kind = str(page.get("kind", "")).removesuffix("List")
            meta = page.get("metadata") or {}
            items = [
                {"apiVersion": page.get("apiVersion"), "kind": kind, **item}
                for item in page.get("items") or []
            ]
            yield items, str(meta.get("resourceVersion") or "")
            token = meta.get("continue")
            if not token:
                return
            params["continue"] = token

    async def create(self, path: str, body: Body) -> Body:
        return await self._request("POST", path, verb="create", body=body)

    async def put(self, path: str, body: Body) -> Body:
        return await self._request("PUT", path, verb="update", body=body)

    async def patch(self, path: str, body: Body | Items, *, patch_type: PatchType) -> Body:
        return await self._request(
            "PATCH", path, verb="patch", body=body, content_type=_PATCH_CONTENT_TYPES[patch_type]
        )

    async def delete(self, path: str, *, preconditions: dict[str, str] | None = None) -> Body:
        body: Body | None = None
        if preconditions:
            body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": preconditions}
        return await self._request("DELETE", path, verb="delete", body=body)

    # --- machinery -----------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        verb: str,
        params: dict[str, str] | None = None,
        body: Body | Items | None = None,
        content_type: str = "application/json",
    ) -> Body:
        resource = resource_of(path)
        data = json.dumps(body).encode() if body is not None else None
        retries = 0
        renewed = False
        while True:
            await self._bucket.acquire()
            identity = await self._identity()
            try:
                status, payload, retry_after = await self._send(
                    identity, method, path, params=params, data=data, content_type=content_type
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                self._count(verb, resource, "error")
                # A refused connection never reached the server: safe to repeat any verb.
                safe = method == "GET" or isinstance(exc, aiohttp.ClientConnectorError)
                if safe and retries < self._max_retries:
                    retries += 1
                    await asyncio.sleep(self._backoff(retries, retry_after=None))
                    continue
                raise Unavailable(status=0, reason=type(exc).__name__, message=str(exc)) from exc
            self._count(verb, resource, str(status))
            if status < 400:
                return payload
            error = error_for(status=status, body=payload)
            # Expired, revoked or rotated: load the credential again once, at once.
            if isinstance(error, Unauthorized) and not renewed:
                renewed = True
                await self._load(functools.partial(self._connection.renew, identity))
                continue
            retryable = status == 429 or (method == "GET" and status >= 500)
            if retryable and retries < self._max_retries:
                retries += 1
                await asyncio.sleep(self._backoff(retries, retry_after=retry_after))
                continue
            raise error

    async def _identity(self) -> Identity:
        if self._connection.due():
            return await self._load(self._connection.current)
        return self._connection.identity

    @staticmethod
    async def _load(load: Callable[[], Identity]) -> Identity:
        try:
            return await asyncio.to_thread(load)
        except KubeConfigError as exc:
            raise Unavailable(status=0, reason="CredentialUnavailable", message=str(exc)) from exc

    def _ssl(self, identity: Identity) -> ssl.SSLContext | bool:
        if self._tls[0] != identity.tls():
            built = identity.ssl_context()
            self._tls = (identity.tls(), built if built is not None else False)
        return self._tls[1]

    async def _send(
        self,
        identity: Identity,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None,
        data: bytes | None,
        content_type: str,
    ) -> tuple[int, Body, float | None]:
        headers = {"Content-Type": content_type}
        authorization = identity.authorization()
        if authorization:
            headers["Authorization"] = authorization
        url = identity.server + path
        async with self._session.request(
            method, url, params=params, data=data, headers=headers, ssl=self._ssl(identity)
        ) as response:
            text = await response.text()
            try:
                payload = json.loads(text) if text else {}
            except json.JSONDecodeError:
                payload = {"message": text[:500]}
            if not isinstance(payload, dict):
                raise ApiError(status=response.status, reason="BadResponse", message=text[:500])
            return response.status, payload, _seconds(response.headers.get("Retry-After"))

    def _backoff(self, attempt: int, *, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._backoff_cap * 6)
        return min(self._backoff_cap, 0.2 * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)

    def _count(self, verb: str, resource: str, code: str) -> None:
        if self._metrics is not None:
            self._metrics.kube_requests.labels(verb=verb, resource=resource, code=code).inc()


def _seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (the API server never sends the HTTP-date form)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
