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
import signal
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, cast

import kopf

from podeip import __version__, constants
from podeip.cloud.alibaba.openapi.operations import EipOperations
from podeip.cloud.errors import CloudError
from podeip.cloud.models import Eip
from podeip.cloud.observed import ObservedEips
from podeip.cloud.provider import EipProvider
from podeip.controllers import handlers, lean
from podeip.controllers.memo import Operator
from podeip.k8s.client import KubeClient
from podeip.k8s.connection import load_connection
from podeip.k8s.errors import ApiError
from podeip.k8s.events import EventRecorder, ObjectRef
from podeip.k8s.leadership import LEASE_NAME, Leadership, LeaseTimings
from podeip.k8s.leases import Claims
from podeip.k8s.podeips import PodEIPs
from podeip.k8s.pods import Pods
from podeip.k8s.view import ClusterView, ViewedPodEIPs, ViewedPods
from podeip.observability.logging import configure_logging
from podeip.observability.metrics import Metrics, start_metrics_server
from podeip.reconcile import gc
from podeip.reconcile.deps import Deps, asks_for_eip
from podeip.reconcile.podeip import Reconciler
from podeip.reconcile.queue import Key, WorkQueue
from podeip.settings import Settings

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file (default: KUBECONFIG, in-cluster, ~/.kube/config)"
    )
    parser.add_argument("--context", dest="kube_context", help="kubeconfig context (default: current)")
    parser.add_argument(
        "--standalone", action="store_true", default=None, help="the only instance: no leader Lease"
    )
    parser.add_argument("--metrics-port", type=int, help="port of /metrics and /healthz (0: off)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def settings_from(args: argparse.Namespace) -> Settings:
    """Environment (``PODEIP_*``) first, flags on top."""
    overrides: dict[str, Any] = {}
    for name in ("kubeconfig", "kube_context", "standalone", "metrics_port", "log_level"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def main(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    configure_logging(settings.log_level, settings.log_format)
    return run_unless_refused(run(settings))


#: Exit code of every command that refused to act beside another EIP controller.
EXIT_REFUSED = 3


def run_unless_refused(work: Coroutine[Any, Any, int | None]) -> int:
    """Run a command's work; beside another EIP controller, log why and exit 3 (no traceback).
    ``podeip run``, ``gc`` and ``adopt`` all refuse alike: each connects through ``connected``."""
    try:
        return asyncio.run(work) or 0
    except CoexistenceError as error:
        logger.error("%s", error)
        return EXIT_REFUSED


def build_provider(settings: Settings, metrics: Metrics) -> EipProvider:
    """The configured provider, reporting every call to the metrics."""
    provider: EipOperations
    if settings.cloud.provider == "simulated":
        from podeip.simulator.engine import Engine
        from podeip.simulator.provider import SimulatedEipProvider

        provider = SimulatedEipProvider.from_settings(settings.cloud, engine=Engine())
    else:
        from podeip.cloud.alibaba.sdk.provider import AlibabaEipProvider

        provider = AlibabaEipProvider.from_settings(settings.cloud)
    provider.observer = metrics
    return provider


async def status_fields_of(client: KubeClient) -> frozenset[str] | None:
    """The status fields of the installed PodEIP CRD, so that an older CRD is written only what
    it keeps (docs/compatibility.md §4.3). None when it cannot be read: write everything."""
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


#: Where AENC runs: its Helm app name in kube-system, as Alibaba's install steps give it.
AENC_DEPLOYMENT = "/apis/apps/v1/namespaces/kube-system/deployments/ack-extend-network-controller"
TERWAY_CONFIG = "/api/v1/namespaces/kube-system/configmaps/eni-config"


async def terway_eip_pool(client: KubeClient) -> tuple[dict[str, Any], str] | None:
    """Terway's EIP feature (docs/reliability.md T16; docs/compatibility.md §5.4): its switch is in
    ``kube-system/eni-config`` (key ``eni_conf``, JSON, ``enable_eip_pool``). A missing or
    unreadable ConfigMap means no Terway EIP pool."""
    try:
        config = await client.get(TERWAY_CONFIG)
    except ApiError:
        return None
    raw = (config.get("data") or {}).get("eni_conf", "")
    try:
        enabled = str(json.loads(raw).get("enable_eip_pool", "")).lower() == "true" if raw else False
    except (ValueError, AttributeError):
        enabled = '"enable_eip_pool": "true"' in raw
    if not enabled:
        return None
    return config, (
        "Terway's EIP feature is on (kube-system/eni-config: enable_eip_pool is true); two EIP "
        "controllers would allocate twice and fight over bindings. Turn it off (see the README, "
        "Migrating), then start again."
    )


async def running_aenc(client: KubeClient) -> tuple[dict[str, Any], str] | None:
    """ack-extend-network-controller's Deployment in kube-system with replicas wanted or still
    running. Its EIP switch lives in its own configuration, which we do not read: a running
    AENC is refused whatever it serves. Missing or unreadable: no AENC."""
    try:
        deployment = await client.get(AENC_DEPLOYMENT)
    except ApiError:
        return None
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    running = (deployment.get("status") or {}).get("replicas", 0)
    if not wanted and not running:
        return None
    return deployment, (
        "ack-extend-network-controller is running (Deployment kube-system/ack-extend-network-controller, "
        f"{wanted} replica(s) wanted, {running} running); two EIP controllers would allocate twice "
        "and fight over bindings. Uninstall it but keep the PodEIP CRD and the PodEIPs (see the "
        "README, Migrating), then start again."
    )


async def check_no_other_eip_controller(client: KubeClient, events: EventRecorder) -> None:
    """Refuse to run beside another EIP controller: a log line, a Warning Event on what shows
    it (Terway's ConfigMap, AENC's Deployment), and exit code 3. Checked once at start."""
    for check in (terway_eip_pool, running_aenc):
        found = await check(client)
        if found is None:
            continue
        body, message = found  # a GET of one object carries its apiVersion and kind
        await events.warning(ObjectRef.from_body(body), reason=constants.EV_OTHER_CONTROLLER, message=message)
        raise CoexistenceError(message)


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
    connection = load_connection(settings.kubeconfig, context=settings.kube_context, env=os.environ)
    client = KubeClient(
        connection, qps=settings.kube_client_qps, burst=settings.kube_client_burst, metrics=metrics
    )
    # Every cloud call of the operator goes through the observation cache (podeip.cloud.observed).
    cloud = ObservedEips(provider or build_provider(settings, metrics))
    events = EventRecorder(client, instance=os.environ.get("HOSTNAME", "podeip-operator"))
    label = (
        (constants.WATCH_LABEL, constants.WATCH_LABEL_VALUE) if settings.watch.select_labeled_pods else None
    )
    view = ClusterView(asks_for_eip=asks_for_eip, pod_label=label)
    try:
        await check_no_other_eip_controller(client, events)
        yield Deps(
            settings=settings,
            cluster_id=await cluster_id_of(settings, client),
            status_fields=await status_fields_of(client),
            connection=connection,
            client=client,
            pods=ViewedPods(Pods(client), view),
            podeips=ViewedPodEIPs(PodEIPs(client), view),
            view=view,
            events=events,
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
        leadership = None if settings.standalone else leadership_of(settings, deps)
        queue = WorkQueue(
            reconciler.reconcile,
            concurrency=settings.max_concurrent_reconciles,
            on_error=lambda key, error: deps.metrics.reconcile_errors.labels(
                controller="podeip", error_category=type(error).__name__
            ).inc(),
            gate=leadership.held if leadership else None,
            clock=deps.monotonic,  # the one clock of waits, holds and backoffs
        )
        deps.enqueue = queue.add
        # Until the view is ready, what its start-up brings is kept aside: ``begin_work`` gives
        # a pass only to the keys that need one (``gc.changed_at_start``, ``gc.still_to_check``);
        # every change after that, and a pod's deletion at any time, is queued.
        started: set[Key] = set()
        begun = asyncio.Event()

        def on_change(key: Key) -> None:
            if leadership is None or leadership.leading:  # a standby never calls the cloud
                reconciler.saw(key)  # the pod's ENI is looked up as soon as it has its IP
            if begun.is_set():
                queue.add(key)
            else:
                started.add(key)

        deps.view.on_change = on_change
        deps.view.on_gone = lambda key: queue.add(key, urgent=True)
        runner = None
        if settings.metrics_port:
            runner = await start_metrics_server(
                deps.metrics, host=settings.metrics_host, port=settings.metrics_port
            )
        # Leader or standby, the view is filled and kept fed: a takeover starts with a full view.
        view_task = asyncio.create_task(fill_view(deps), name="podeip-view")
        lead_task = start_task = None
        if leadership is None:
            await begin_work(deps, reconciler, queue, None, started, begun)
        else:  # a standby watches and queues; it lists and works once it leads
            lead_task = asyncio.create_task(leadership.run(), name="podeip-leader")
            start_task = asyncio.create_task(
                begin_work(deps, reconciler, queue, leadership, started, begun), name="podeip-begin"
            )
        gc_task = asyncio.create_task(collect_garbage(deps, reconciler, leadership), name="podeip-gc")
        registry = kopf.OperatorRegistry()
        handlers.register(registry, cascade=settings.cascade_reclaim)
        logger.info(
            "podeip-operator %s starting (cluster %s, provider %s)",
            __version__,
            deps.cluster_id,
            settings.cloud.provider,
        )
        try:
            yield Operator(connection=deps.connection, queue=queue, view=deps.view), reconciler, registry
        finally:
            tasks = [task for task in (gc_task, start_task, lead_task, view_task) if task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await queue.stop()
            if leadership is not None:
                await leadership.release()
                await leadership.client.close()
            if runner is not None:
                await runner.cleanup()


def leadership_of(settings: Settings, deps: Deps) -> Leadership:
    """The leader Lease (R9), on a client of its own: a renewal never waits behind the
    reconcilers' requests in the shared rate limiter."""
    leader = settings.leader
    identity = leader.identity or f"{os.environ.get('HOSTNAME', 'podeip-operator')}-{secrets.token_hex(3)}"
    client = KubeClient(deps.connection, qps=5, burst=5, metrics=deps.metrics)
    timings = LeaseTimings(
        duration=leader.lease_duration_seconds,
        renew_every=leader.renew_every_seconds,
        renew_deadline=leader.renew_deadline_seconds,
        retry_every=leader.retry_every_seconds,
    )
    logger.info("leader Lease %s/%s, identity %s", settings.namespace, LEASE_NAME, identity)
    return Leadership(
        client,
        namespace=settings.namespace,
        identity=identity,
        timings=timings,
        on_change=lambda held: deps.metrics.leader.set(1 if held else 0),
    )


#: Seconds after kopf starts listing again before the view lists too (its listing must be newer).
RELIST_SETTLE = 5.0


async def fill_view(deps: Deps) -> None:
    """List pods and PodEIPs into the view (k8s/view.py, "Start-up"), again until it succeeds,
    then wait for kopf's stream to confirm them: no pass decides on a half-listed world. Then
    list again whenever kopf did (a watch that could not resume)."""
    view, page_size = deps.view, deps.settings.watch.list_chunk_size or 100
    delay = 1.0
    while True:
        try:
            if not view.ready.is_set():
                await view.fill(deps.pods, deps.podeips, page_size=page_size)
                await view.confirm(deps.pods, deps.podeips)
            await view.relisted.wait()
            await asyncio.sleep(RELIST_SETTLE)
            view.relisted.clear()
            logger.info("kopf listed again: so does the view")
            await view.fill(deps.pods, deps.podeips, page_size=page_size)
            delay = 1.0
        except ApiError as error:
            if view.ready.is_set():
                view.relisted.set()  # try that listing again
            logger.warning("listing pods and PodEIPs failed (%s); again in %.0f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def begin_work(
    deps: Deps,
    reconciler: Reconciler,
    queue: WorkQueue,
    leadership: Leadership | None,
    started: set[Key] | None = None,
    begun: asyncio.Event | None = None,
) -> None:
    """Once this instance leads (at once when standalone): list our EIPs (``warm_up``) while the
    view fills. Once the view is filled: queue the keys of the view's start-up (``started``:
    those it brought until then) that changed while no instance worked (pods gone, new pods:
    ``gc.changed_at_start``) and start the workers; from then on (``begun``) every change is
    queued. Once the listing is in too, queue the other PodEIPs that need a pass
    (``gc.still_to_check``). Nothing here waits for kopf's start-up delivery (``ready``): kopf
    delivers 25,000 pods in about 45 s, which a restart spent waiting (BENCHMARKS-scale.md); a
    pass reads the pod of a key the watch has not delivered yet. The listing is a snapshot taken
    while the view fills (a restart that changed nothing finds every PodEIP as the listing shows
    it); what changes after it is told by the watch, or found by the passes, which look again at
    an EIP whose observation is too old (``ObservedEips``). A standby lists nothing: the cloud's
    read limit is the account's. A selecting pod watch waits for ``ready`` first: its
    unconfirmed entries are also the pods it does not watch (``gc._why``)."""
    if leadership is not None:
        await leadership.held.wait()
    else:
        deps.metrics.leader.set(1)
    listing = asyncio.create_task(warm_up(deps, reconciler))
    try:
        await (deps.view.ready if deps.view.pod_label is not None else deps.view.filled).wait()
    except asyncio.CancelledError:
        listing.cancel()
        raise
    if begun is not None:
        begun.set()  # (no await between this and reading ``started``: no change is lost)
    changed, rest = gc.changed_at_start(deps, sorted(started or ()))
    gc.expect_holders(deps, changed)  # before any look: a new pod on a gone pod's IP waits
    for key in changed:
        queue.add(key)
    queue.start()
    eips = await listing
    keys = gc.still_to_check(deps, eips, rest)
    logger.info(
        "start-up: %d changed while down and %d more of %d PodEIPs and pods need a pass",
        len(changed),
        len(keys),
        len(started or ()),
    )
    for key in keys:
        queue.add(key)


async def warm_up(deps: Deps, reconciler: Reconciler) -> list[Eip] | None:
    """One listing of our tagged EIPs before the first passes: the start-up diff compares every
    PodEIP with it (``gc.still_to_check``), and the passes it asks for find their EIPs in it (the
    listing passes through ``Deps.cloud``, an ``ObservedEips``, which remembers it)."""
    try:
        return await deps.cloud.describe_eips(tags={constants.TAG_CLUSTER_ID: deps.cluster_id})
    except CloudError as error:
        logger.warning("could not list our EIPs at start (%s); each PodEIP will look at its own", error)
        return None


async def collect_garbage(deps: Deps, reconciler: Reconciler, leadership: Leadership | None) -> None:
    period = deps.settings.gc.period_minutes * 60
    while True:
        await asyncio.sleep(period)
        if (leadership is not None and not leadership.leading) or not deps.view.ready.is_set():
            continue
        try:
            await gc.run_pass(deps)
        except Exception:
            logger.exception("garbage collection pass failed")


async def idle(
    settings: Settings, *, stop_flag: asyncio.Event | None, ready_flag: asyncio.Event | None
) -> None:
    """``enableControllers`` without ``eip``: touch no EIP and no PodEIP (no watch, no cloud
    client), but stay up and healthy with metrics served, so that the Deployment is not
    restarted in a loop, until stopped (SIGTERM/SIGINT)."""
    logger.warning(
        "enableControllers is %s, without 'eip': the EIP controller is off; this instance "
        "touches no EIP and no PodEIP and only serves /healthz and /metrics",
        settings.enable_controllers,
    )
    stop = stop_flag or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    runner = None
    if settings.metrics_port:
        runner = await start_metrics_server(Metrics(), host=settings.metrics_host, port=settings.metrics_port)
    if ready_flag is not None:
        ready_flag.set()
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
        if runner is not None:
            await runner.cleanup()


def kopf_setup(
    settings: Settings, registry: kopf.OperatorRegistry
) -> tuple[kopf.OperatorSettings, lean.EventMemories | None]:
    """kopf's settings and its store of per-object memories (None: kopf's own) for this
    registry: the lean ones (``controllers/lean.py``) only if it holds event handlers only."""
    events_only = lean.fits(registry)
    return kopf_settings(settings, events_only=events_only), lean.EventMemories() if events_only else None


def kopf_settings(settings: Settings, *, events_only: bool = False) -> kopf.OperatorSettings:
    """kopf's settings; ``events_only``: the registry holds event handlers only (``lean``)."""
    configured = kopf.OperatorSettings()
    configured.persistence.finalizer = "podeip-controller.alibabacloud.com/kopf-finalizer"
    configured.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="podeip-controller.alibabacloud.com"
    )
    configured.persistence.diffbase_storage = (
        lean.NoDiffBase()  # no changing handler: no essence to build at every event
        if events_only
        else kopf.AnnotationsDiffBaseStorage(prefix="podeip-controller.alibabacloud.com")
    )
    configured.posting.level = logging.WARNING
    configured.watching.server_timeout = 300
    configured.networking.request_timeout = 60
    # Memory that does not grow with pods that ask for nothing (BENCHMARKS.md "Memory at
    # start-up"): a paged start-up listing, and per-object workers that let go of their body soon.
    configured.watching.chunk_size = settings.watch.list_chunk_size or None
    configured.queueing.idle_timeout = settings.watch.worker_idle_seconds
    if settings.watch.select_labeled_pods:  # server-side: pods without the label never arrive
        configured.watching.label_selectors["", "v1", "pods"] = constants.WATCH_LABEL_SELECTOR
    return configured


async def run(
    settings: Settings,
    *,
    provider: EipProvider | None = None,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
) -> None:
    unknown = sorted(set(settings.enable_controllers) - {"eip"})
    if unknown:
        logger.warning("enableControllers: %s not implemented here; ignored", ", ".join(unknown))
    if not settings.eip_enabled:
        await idle(settings, stop_flag=stop_flag, ready_flag=ready_flag)
        return
    async with running(settings, provider=provider) as (memo, _, registry):
        configured, memories = kopf_setup(settings, registry)
        await kopf.operator(
            registry=registry,
            settings=configured,
            memories=memories,  # none kept per object seen (pods that ask for nothing included)
            memo=memo,
            clusterwide=True,
            # No kopf peering: it would pause the leader whenever a standby starts. The leader
            # Lease alone keeps one instance active; a standby only watches and queues.
            standalone=True,
            # Given, so that kopf does not derive one from the user name: the image's user
            # (65532) has no passwd entry, and getpass.getuser() raised at start.
            # (kopf types it as its internal NewType ``Identity`` over str, not exported.)
            identity=cast(Any, os.environ.get("HOSTNAME", "podeip-operator")),
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
