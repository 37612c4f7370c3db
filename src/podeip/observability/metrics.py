"""Prometheus instruments and the small HTTP server that exposes them.

All instruments hang off one :class:`Metrics` object with its own ``CollectorRegistry``: the
composition root creates it once and passes it to whatever records (the cloud wrapper, the
Kubernetes client, reconcilers); tests create as many as they like without clashing in the
process-global default registry. Names come from ``podeip.constants`` (style: units in the
name, counters end in ``_total``, seconds not milliseconds).

The server answers ``/metrics`` and ``/healthz`` on aiohttp inside the operator's event loop,
next to kopf, so no thread is needed. kopf's own liveness endpoint stays separate.
"""

from __future__ import annotations

from collections.abc import Callable

import prometheus_client
from aiohttp import web

from podeip import constants

#: Cloud calls take tens of milliseconds to tens of seconds (with retries).
_CLOUD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: From pod creation to the gate condition turning True: seconds to minutes.
_READY_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    """Every instrument the operator records, registered in a private registry."""

    def __init__(self) -> None:
        self.registry = prometheus_client.CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.cloud_calls = prometheus_client.Counter(
            constants.METRIC_CLOUD_CALLS,
            "Cloud API calls by operation and error code (empty when it succeeded).",
            ["operation", "error_code"],
            registry=reg,
        )
        self.cloud_duration = prometheus_client.Histogram(
            constants.METRIC_CLOUD_DURATION,
            "Duration of one cloud API call, retries excluded.",
            ["operation"],
            buckets=_CLOUD_BUCKETS,
            registry=reg,
        )
        self.cloud_retries = prometheus_client.Counter(
            constants.METRIC_CLOUD_RETRIES,
            "Cloud API calls repeated after a retryable error.",
            ["operation"],
            registry=reg,
        )
        self.reconcile_errors = prometheus_client.Counter(
            constants.METRIC_RECONCILE_ERRORS,
            "Reconcile passes that ended in an error, by controller and error category.",
            ["controller", "error_category"],
            registry=reg,
        )
        self.eips = prometheus_client.Gauge(
            constants.METRIC_EIPS,
            "EIPs known to the operator by state (managed, kept, orphaned).",
            ["state"],
            registry=reg,
        )
        self.gc_released = prometheus_client.Counter(
            constants.METRIC_GC_RELEASED,
            "EIPs released by garbage collection, by release strategy.",
            ["strategy"],
            registry=reg,
        )
        self.ready_seconds = prometheus_client.Histogram(
            constants.METRIC_READY_SECONDS,
            "Seconds from pod creation until its EIP readiness condition became True.",
            buckets=_READY_BUCKETS,
            registry=reg,
        )
        self.leader = prometheus_client.Gauge(
            constants.METRIC_LEADER,
            "1 while this instance works: it holds the leader Lease, or runs standalone.",
            registry=reg,
        )
        self.unbound_seconds = prometheus_client.Gauge(
            constants.METRIC_UNBOUND_SECONDS,
            "Longest time an EIP kept for a gone pod (TTL, Never) has been unbound: it is billed all along.",
            registry=reg,
        )
        self.terminating_seconds = prometheus_client.Gauge(
            constants.METRIC_TERMINATING_SECONDS,
            "Longest time a PodEIP has been terminating (its finalizer waits for the cloud).",
            registry=reg,
        )
        self.kube_requests = prometheus_client.Counter(
            constants.METRIC_KUBE_REQUESTS,
            "Requests of the operator's own Kubernetes client by verb, resource and HTTP code.",
            ["verb", "resource", "code"],
            registry=reg,
        )

    def called(self, action: str, *, error_code: str, seconds: float) -> None:
        """One cloud API call (the cloud layer's observer hook)."""
        self.cloud_calls.labels(operation=action, error_code=error_code).inc()
        self.cloud_duration.labels(operation=action).observe(seconds)

    def retried(self, action: str) -> None:
        self.cloud_retries.labels(operation=action).inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return bytes(prometheus_client.generate_latest(self.registry))


async def start_metrics_server(
    metrics: Metrics,
    *,
    host: str,
    port: int,
    is_healthy: Callable[[], bool] | None = None,
) -> web.AppRunner:
    """Serve ``/metrics`` and ``/healthz``; the caller awaits ``runner.cleanup()`` on shutdown.

    ``port=0`` binds a free port; read it from ``runner.addresses``.
    """

    async def serve_metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST}
        )

    async def serve_health(_: web.Request) -> web.Response:
        healthy = is_healthy() if is_healthy is not None else True
        return web.Response(text="ok\n" if healthy else "unhealthy\n", status=200 if healthy else 503)

    app = web.Application()
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/healthz", serve_health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host=host, port=port).start()
    return runner
