"""Fixtures for the access layer's integration tests: one client per test against the real
local control plane, built through the connection loader (the kubernetes library: token auth, CA file)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from podeip.k8s.client import KubeClient
from podeip.k8s.connection import load_connection
from podeip.observability.metrics import Metrics
from testbed.cluster import ControlPlane


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def kube(control_plane: ControlPlane, metrics: Metrics) -> AsyncIterator[KubeClient]:
    connection = load_connection(control_plane.kubeconfig, env={})
    async with KubeClient(connection, qps=50, burst=100, metrics=metrics) as client:
        yield client
