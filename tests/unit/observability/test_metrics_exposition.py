"""We test these aspects of metrics: every instrument is exposed under the name from constants
with its documented labels; two Metrics objects do not share state; the HTTP server on
loopback serves the Prometheus text format on /metrics and answers /healthz with 200 or 503
according to the health callback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from podeip import constants
from podeip.observability.metrics import Metrics, start_metrics_server


def record_one_of_each(metrics: Metrics) -> None:
    metrics.cloud_calls.labels(operation="AllocateEipAddress", error_code="").inc()
    metrics.cloud_calls.labels(operation="AllocateEipAddress", error_code="Throttling").inc()
    metrics.cloud_duration.labels(operation="AllocateEipAddress").observe(0.3)
    metrics.cloud_retries.labels(operation="AllocateEipAddress").inc()
    metrics.reconcile_errors.labels(controller="podeip", error_category="cloud").inc()
    metrics.eips.labels(state="managed").set(3)
    metrics.gc_released.labels(strategy="TTL").inc()
    metrics.ready_seconds.observe(4.2)
    metrics.kube_requests.labels(verb="patch", resource="pods/status", code="200").inc()


def test_every_instrument_is_exposed_with_its_name_and_labels() -> None:
    metrics = Metrics()
    record_one_of_each(metrics)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
    }
    expected = {
        (
            constants.METRIC_CLOUD_CALLS,
            (("error_code", "Throttling"), ("operation", "AllocateEipAddress")),
        ): 1.0,
        (constants.METRIC_CLOUD_CALLS, (("error_code", ""), ("operation", "AllocateEipAddress"))): 1.0,
        (constants.METRIC_CLOUD_DURATION + "_count", (("operation", "AllocateEipAddress"),)): 1.0,
        (constants.METRIC_CLOUD_RETRIES, (("operation", "AllocateEipAddress"),)): 1.0,
        (constants.METRIC_RECONCILE_ERRORS, (("controller", "podeip"), ("error_category", "cloud"))): 1.0,
        (constants.METRIC_EIPS, (("state", "managed"),)): 3.0,
        (constants.METRIC_GC_RELEASED, (("strategy", "TTL"),)): 1.0,
        (constants.METRIC_READY_SECONDS + "_sum", ()): 4.2,
        (
            constants.METRIC_KUBE_REQUESTS,
            (("code", "200"), ("resource", "pods/status"), ("verb", "patch")),
        ): 1.0,
    }
    for key, value in expected.items():
        assert samples.get(key) == pytest.approx(value), key


def test_two_metrics_objects_do_not_share_state() -> None:
    first, second = Metrics(), Metrics()
    first.gc_released.labels(strategy="TTL").inc()
    assert first.registry.get_sample_value(constants.METRIC_GC_RELEASED, {"strategy": "TTL"}) == 1.0
    assert second.registry.get_sample_value(constants.METRIC_GC_RELEASED, {"strategy": "TTL"}) is None


@pytest.fixture
def health() -> list[bool]:
    return [True]


@pytest.fixture
async def server(health: list[bool]) -> AsyncIterator[tuple[str, Metrics]]:
    metrics = Metrics()
    runner = await start_metrics_server(metrics, host="127.0.0.1", port=0, is_healthy=lambda: health[0])
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", metrics
    await runner.cleanup()


async def test_the_server_exposes_metrics_in_the_text_format(server: tuple[str, Metrics]) -> None:
    url, metrics = server
    metrics.eips.labels(state="kept").set(2)
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        body = await response.text()
    assert 'podeip_eips{state="kept"} 2.0' in body.splitlines()


async def test_healthz_follows_the_health_callback(server: tuple[str, Metrics], health: list[bool]) -> None:
    url, _ = server
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/healthz") as response:
            assert response.status == 200
        health[0] = False
        async with session.get(f"{url}/healthz") as response:
            assert response.status == 503
