"""``podeip run``: the composition root. Settings → clients → reconciler → kopf.

Everything is built once here and passed explicitly: the one Kubernetes client, the cloud
provider (the Alibaba SDKs, or the simulated cloud in process), the metrics registry, the work
queue and the garbage collector. kopf only watches and enqueues (``podeip.controllers``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kopf

from podeip import __version__, constants
from podeip.cloud.errors import CloudError
from podeip.cloud.operations import EipOperations
from podeip.cloud.provider import EipProvider
from podeip.controllers import handlers
from podeip.controllers.memo import Operator
from podeip.k8s.client import KubeClient
from podeip.k8s.config import load_connection
from podeip.k8s.errors import ApiError
from podeip.k8s.events import EventRecorder
from podeip.k8s.leadership import Leadership
from podeip.k8s.leases import Claims
from podeip.k8s.podeips import PodEIPs
from podeip.k8s.pods import Pods
from podeip.observability.logging import configure_logging
from podeip.observability.metrics import Metrics, start_metrics_server
from podeip.reconcile import gc
from podeip.reconcile.deps import Deps
from podeip.reconcile.podeip import Reconciler
from podeip.reconcile.queue import WorkQueue
from podeip.settings import Settings

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file (default: in-cluster ServiceAccount)"
    )
    parser.add_argument("--standalone", action="store_true", default=None, help="no kopf peering")
    parser.add_argument("--metrics-port", type=int, help="port of /metrics and /healthz (0: off)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def settings_from(args: argparse.Namespace) -> Settings:
    """Environment (``PODEIP_*``) first, flags on top."""
    overrides: dict[str, Any] = {}
    for name in ("kubeconfig", "standalone", "metrics_port", "log_level"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    configure_logging(settings.log_level, settings.log_format)
    if not settings.eip_enabled:
        logger.warning("enableControllers does not contain 'eip': the EIP controller is off")
    try:
        asyncio.run(run(settings))
    except CoexistenceError as error:
        logger.error("%s", error)
        return 3
    return 0


def build_provider(settings: Settings, metrics: Metrics) -> EipProvider:
    """The configured provider, reporting every call to the metrics."""
    provider: EipOperations
    if settings.cloud.provider == "simulated":
        from podeip.cloud.simulated.engine import Engine
        from podeip.cloud.simulated.provider import SimulatedEipProvider

        provider = SimulatedEipProvider.from_settings(settings.cloud, engine=Engine())
    else:
        from podeip.cloud.alibaba.provider import AlibabaEipProvider

        provider = AlibabaEipProvider.from_settings(settings.cloud)
    provider.observer = metrics
    return provider


async def status_fields_of(client: KubeClient) -> frozenset[str] | None:
    """The status fields of the installed PodEIP CRD, so that an older CRD is written only what
    it keeps (compatibility §4.3). None when it cannot be read: write everything."""
    try:
        crd = await client.get(
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{constants.CRD_NAME}"
        )
    except ApiError as error:
        logger.warning("cannot read the PodEIP CRD (%s): assuming it keeps every status field", error)
        return None
    for version in crd.get("spec", {}).get("versions", []):
        if version.get("name") == constants.VERSION:
            schema = version.get("schema", {}).get("openAPIV3Schema", {})
            status = schema.get("properties", {}).get("status", {})
            if status.get("x-kubernetes-preserve-unknown-fields"):
                return None
            fields = frozenset(status.get("properties", {}))
            if "conditions" not in fields:
                logger.warning(
                    "the installed PodEIP CRD has no status.conditions: conditions are not written; "
                    "upgrade it with kubectl apply -f crds/"
                )
            return fields
    return None


class CoexistenceError(RuntimeError):
    """Another EIP controller is active: two would allocate twice and fight over bindings."""


async def check_no_terway_eip_pool(client: KubeClient) -> None:
    """Refuse to run beside Terway's EIP feature (reliability T16; compatibility §5.4).

    Terway keeps its switch in ``kube-system/eni-config`` (key ``eni_conf``, JSON,
    ``enable_eip_pool``). A missing or unreadable ConfigMap means no Terway EIP pool.
    """
    try:
        config = await client.get("/api/v1/namespaces/kube-system/configmaps/eni-config")
    except ApiError:
        return
    raw = (config.get("data") or {}).get("eni_conf", "")
    try:
        enabled = str(json.loads(raw).get("enable_eip_pool", "")).lower() == "true" if raw else False
    except (ValueError, AttributeError):
        enabled = '"enable_eip_pool": "true"' in raw
    if enabled:
        raise CoexistenceError(
            "Terway's EIP feature is on (kube-system/eni-config: enable_eip_pool is true); two EIP "
            "controllers would allocate twice and fight over bindings. Turn it off (see the README, "
            "Migrating), then start again."
        )


async def cluster_id_of(settings: Settings, client: KubeClient) -> str:
    """AENC's clusterID; without one, the kube-system namespace UID (immutable)."""
    if settings.cluster_id:
        return settings.cluster_id
    namespace = await client.get("/api/v1/namespaces/kube-system")
    return str(namespace["metadata"]["uid"])


@contextlib.asynccontextmanager
async def connected(settings: Settings, *, provider: EipProvider | None = None) -> AsyncIterator[Deps]:
    """The clients (Kubernetes, cloud) and metrics, in a ``Deps``; closed on exit."""
    metrics = Metrics()
    connection = load_connection(settings.kubeconfig, env=os.environ)
    client = KubeClient(
        connection, qps=settings.kube_client_qps, burst=settings.kube_client_burst, metrics=metrics
    )
    cloud = provider or build_provider(settings, metrics)
    try:
        await check_no_terway_eip_pool(client)
        yield Deps(
            settings=settings,
            cluster_id=await cluster_id_of(settings, client),
            status_fields=await status_fields_of(client),
            connection=connection,
            client=client,
            pods=Pods(client),
            podeips=PodEIPs(client),
            events=EventRecorder(client, instance=os.environ.get("HOSTNAME", "podeip-operator")),
            claims=Claims(client, namespace=settings.namespace),
            cloud=cloud,
            metrics=metrics,
        )
    finally:
        close = getattr(cloud, "close", None)
        if close is not None:
            await close()
        await client.close()


@contextlib.asynccontextmanager
async def running(
    settings: Settings, *, provider: EipProvider | None = None
) -> AsyncIterator[tuple[Operator, Reconciler, kopf.OperatorRegistry]]:
    """The operator's parts, started; stopped on exit. ``provider``: a test's own."""
    async with connected(settings, provider=provider) as deps:
        reconciler = Reconciler(deps)
        leadership = None
        if not settings.standalone:  # one active instance (R9); standalone: tests, the demo
            identity = f"{os.environ.get('HOSTNAME', 'podeip-operator')}-{secrets.token_hex(3)}"
            leadership = Leadership(deps.client, namespace=settings.namespace, identity=identity)
        queue = WorkQueue(
            reconciler.reconcile,
            concurrency=settings.max_concurrent_reconciles,
            on_error=lambda key, error: deps.metrics.reconcile_errors.labels(
                controller="podeip", error_category=type(error).__name__
            ).inc(),
            gate=leadership.held if leadership else None,
        )
        deps.enqueue = queue.add
        runner = None
        if settings.metrics_port:
            runner = await start_metrics_server(
                deps.metrics, host=settings.metrics_host, port=settings.metrics_port
            )
        await warm_up(deps, reconciler)
        queue.start()
        gc_task = asyncio.create_task(collect_garbage(deps, reconciler, leadership), name="podeip-gc")
        lead_task = asyncio.create_task(leadership.run(), name="podeip-leader") if leadership else None
        registry = kopf.OperatorRegistry()
        handlers.register(registry, cascade=settings.cascade_reclaim)
        logger.info(
            "podeip-operator %s starting (cluster %s, provider %s)",
            __version__,
            deps.cluster_id,
            settings.cloud.provider,
        )
        try:
            yield Operator(connection=deps.connection, queue=queue), reconciler, registry
        finally:
            tasks = [task for task in (gc_task, lead_task) if task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await queue.stop()
            if leadership is not None:
                await leadership.release()
            if runner is not None:
                await runner.cleanup()


async def warm_up(deps: Deps, reconciler: Reconciler) -> None:
    """One listing of our tagged EIPs before the first passes: after a restart, every PodEIP is
    reconciled at once, and this spares a Describe for each of them (a page holds 100 EIPs)."""
    listed_at = deps.clock()
    try:
        eips = await deps.cloud.describe_eips(tags={constants.TAG_CLUSTER_ID: deps.cluster_id})
    except CloudError as error:
        logger.warning("could not list our EIPs at start (%s); each PodEIP will look at its own", error)
        return
    reconciler.looks.remember_listing(eips, listed_at=listed_at)


async def collect_garbage(deps: Deps, reconciler: Reconciler, leadership: Leadership | None) -> None:
    period = deps.settings.gc.period_minutes * 60
    while True:
        await asyncio.sleep(period)
        if leadership is not None and not leadership.leading:
            continue
        try:
            await gc.run_pass(deps, looks=reconciler.looks)
        except Exception:
            logger.exception("garbage collection pass failed")


def kopf_settings(settings: Settings) -> kopf.OperatorSettings:
    configured = kopf.OperatorSettings()
    configured.persistence.finalizer = "podeip-controller.alibabacloud.com/kopf-finalizer"
    configured.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="podeip-controller.alibabacloud.com"
    )
    configured.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="podeip-controller.alibabacloud.com"
    )
    configured.posting.level = logging.WARNING
    configured.watching.server_timeout = 300
    configured.networking.request_timeout = 60
    return configured


async def run(
    settings: Settings,
    *,
    provider: EipProvider | None = None,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
) -> None:
    async with running(settings, provider=provider) as (memo, _, registry):
        await kopf.operator(
            registry=registry,
            settings=kopf_settings(settings),
            memo=memo,
            clusterwide=True,
            standalone=settings.standalone,
            peering_name=None if settings.standalone else settings.peering_name,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
