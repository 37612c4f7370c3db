"""Fixtures for the k8s unit tests: a scripted API server on loopback and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pydantic import SecretStr

from podeip.k8s.client import KubeClient
from podeip.k8s.connection import Identity, KubeConnection
from podeip.observability.metrics import Metrics
from unit.k8s.fakeapi import FakeApi


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeApi]:
    api = FakeApi()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", api.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    api.server = f"http://{host}:{port}"
    yield api
    await runner.cleanup()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def client(fake_api: FakeApi, metrics: Metrics) -> AsyncIterator[KubeClient]:
    connection = KubeConnection.fixed(Identity(server=fake_api.server, token=SecretStr("static-token")))
    async with KubeClient(
        connection, qps=1000, burst=1000, metrics=metrics, backoff_cap_seconds=0.01
    ) as kube:
        yield kube
