"""The real reconciler in process: an in-memory Kubernetes (``fakes.World`` with deletion,
finalizers and Static claims), the simulated cloud's engine behind ``SimulatedEipProvider``,
and one ``ManualClock`` shared by the operator (``Deps.clock``, ``Deps.monotonic``), the
provider and the engine. ``Bed.settle`` runs passes for a key as the work queue would, following
each ``Requeue.after`` on the manual clock, until a pass asks for nothing more and wrote nothing.

``restart()`` is a crash: a new ``Reconciler`` with no memory (and an empty view, filled again by
the next delivery), over the same world and cloud. Before every pass the world delivers its
objects to the operator's view, as the watch would (``fakes.World.deliver``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podeip import constants as c
from podeip.api.podeip import PodEIP
from podeip.cloud.clock import ManualClock
from podeip.cloud.models import Eni
from podeip.cloud.observed import ObservedEips
from podeip.k8s import errors as kube_errors
from podeip.k8s.view import ClusterView
from podeip.observability.metrics import Metrics
from podeip.reconcile.deps import Deps, asks_for_eip
from podeip.reconcile.podeip import Reconciler
from podeip.reconcile.queue import Key, Requeue
from podeip.settings import CloudSettings, Settings
from podeip.simulator.engine import Engine, EngineConfig
from podeip.simulator.provider import SimulatedEipProvider

from .fakes import WatchedReconciler, World, node_body, pod_body, viewed

CLUSTER = "c-unit"
KEY: Key = ("ns", "web-0")


def _kube_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class KubeWorld(World):
    """``World`` plus what a whole lifecycle needs: PodEIP deletion with finalizers, the
    finalizer's removal at a resourceVersion, listing, and Static claims (Leases)."""

    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    pod_reads: int = 0
    #: Called on every pod read with the number of reads so far (R10 tests change the pod).
    on_pod_read: Callable[[int], None] | None = None
    fail_list: bool = False

    def created_at(self) -> datetime:
        return self.now()

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        self.pod_reads += 1
        if self.on_pod_read is not None:
            self.on_pod_read(self.pod_reads)
        return await super().get_pod(namespace, name)

    async def set_pod_condition(
        self, namespace: str, name: str, *, uid: str, condition: Mapping[str, str]
    ) -> dict[str, Any]:
        pod = self.pods.get((namespace, name))
        if pod is None or pod["metadata"]["uid"] != uid:
            raise kube_errors.NotFound(status=404, reason="NotFound", message=name)
        self.pod_conditions.append(dict(condition))
        status = pod.setdefault("status", {})
        others = [x for x in status.get("conditions") or [] if x.get("type") != condition.get("type")]
        status["conditions"] = [*others, dict(condition)]
        return copy.deepcopy(pod)

    async def delete(self, namespace: str, name: str, *, uid: str | None = None) -> dict[str, Any]:
        stored = self.podeips.get((namespace, name))
        if stored is None:
            raise kube_errors.NotFound(status=404, reason="NotFound", message=name)
        if uid and stored["metadata"]["uid"] != uid:
            raise kube_errors.Conflict(status=409, reason="Conflict", message="uid precondition")
        if not stored["metadata"].get("finalizers"):
            del self.podeips[(namespace, name)]
            self._next_version()  # a deletion is a write (etcd's revision moves): settle goes on
            return copy.deepcopy(stored)
        stored["metadata"].setdefault("deletionTimestamp", _kube_time(self.now()))
        stored["metadata"]["resourceVersion"] = self._next_version()
        return copy.deepcopy(stored)

    async def remove_finalizer(
        self, namespace: str, name: str, finalizer: str, *, resource_version: str, **_: Any
    ) -> dict[str, Any]:
        stored = self.podeips.get((namespace, name))
        if stored is None:
            raise kube_errors.NotFound(status=404, reason="NotFound", message=name)
        if stored["metadata"]["resourceVersion"] != resource_version:
            raise kube_errors.Conflict(status=409, reason="Conflict", message=name)
        finalizers = [f for f in stored["metadata"].get("finalizers") or [] if f != finalizer]
        stored["metadata"]["finalizers"] = finalizers
        stored["metadata"]["resourceVersion"] = self._next_version()
        if not finalizers and stored["metadata"].get("deletionTimestamp"):
            del self.podeips[(namespace, name)]
        return copy.deepcopy(stored)

    async def list(self, namespace: str | None = None, **_: Any) -> list[dict[str, Any]]:
        if self.fail_list:
            raise kube_errors.Unavailable(status=503, reason="ServiceUnavailable", message="list failed")
        return [copy.deepcopy(body) for body in self.podeips.values()]

    async def claim(self, allocation_id: str, *, holder: str) -> str:
        return self.claims.setdefault(allocation_id, holder)

    async def release_claim(self, allocation_id: str, *, holder: str) -> bool:
        if self.claims.get(allocation_id, holder) != holder:
            return False
        self.claims.pop(allocation_id, None)
        return True


class _PodEIPs:
    def __init__(self, world: KubeWorld) -> None:
        self.create = world.create
        self.get = world.get_podeip
        self.list = world.list
        self.patch_status = world.patch_status
        self.patch_metadata_and_spec = world.patch_metadata_and_spec
        self.remove_finalizer = world.remove_finalizer
        self.delete = world.delete


class Bed:
    """One test's world, cloud, clock and operator."""

    def __init__(self, settings: Settings | None = None, *, transition_delay: float = 0.5) -> None:
        self.clock = ManualClock()
        self.engine = Engine(EngineConfig(transition_delay=transition_delay), clock=self.clock)
        self.cloud = SimulatedEipProvider(
            self.engine, clock=self.clock, sleep=self.clock.sleep, rng=lambda: 0.5
        )
        self.world = KubeWorld(now=self.now)
        self.world.nodes["node-a"] = node_body("node-a", {"type": "kwok"})
        self.settings = settings or Settings(cloud=CloudSettings(provider="simulated"))
        self.metrics = Metrics()
        self.enqueued: list[Key] = []
        self.deps = self._deps()
        self.reconciler: Reconciler = WatchedReconciler(self.deps, self.world)
        self.deps.view.on_change = self._saw

    def _saw(self, key: Key) -> None:
        """The view changed: what the composition root does before it queues the key."""
        self.reconciler.saw(key)

    @property
    def view(self) -> ClusterView:
        return self.deps.view

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _deps(self) -> Deps:
        view = ClusterView(asks_for_eip=asks_for_eip)
        pods, podeips = viewed(self.world, _PodEIPs(self.world), view)
        return Deps(
            settings=self.settings,
            cluster_id=CLUSTER,
            connection=None,  # type: ignore[arg-type]
            client=self.world,  # type: ignore[arg-type]
            pods=pods,
            podeips=podeips,
            events=self.world,  # type: ignore[arg-type]
            claims=self.world,  # type: ignore[arg-type]
            # As the composition root wraps it; early ENI lookups gather for one turn of the
            # loop, not 0.1 s of real time (test_observed.py tests the gathering).
            cloud=ObservedEips(self.cloud, clock=self.clock, eni_gather=0.0),
            metrics=self.metrics,
            clock=self.now,
            monotonic=self.clock,
            enqueue=self.enqueued.append,
            view=view,
        )

    def restart(self) -> None:
        """The operator crashes and starts again: all its memory is lost."""
        self.deps = self._deps()
        self.reconciler = WatchedReconciler(self.deps, self.world)
        self.deps.view.on_change = self._saw

    # ---- the world ----------------------------------------------------------------------
    def eni(self, pod_ip: str = "10.0.0.5") -> Eni:
        return self.engine.add_eni(primary_ip="10.0.0.1", private_ips=(pod_ip,))

    def add_pod(
        self,
        annotations: Mapping[str, str] | None = None,
        *,
        key: Key = KEY,
        pod_ip: str = "10.0.0.5",
        uid: str = "pod-uid-1",
        owner: str | None = "ReplicaSet",
    ) -> None:
        asks = {c.PREFIX_K8S + c.POD_WITH_EIP: "true"} if annotations is None else annotations
        body = pod_body(key[1], asks, pod_ip=pod_ip, phase="Running", uid=uid, owner=owner)
        body["metadata"]["namespace"] = key[0]
        self.world.pods[key] = body

    def delete_pod(self, key: Key = KEY) -> None:
        self.world.pods.pop(key, None)

    def podeip(self, key: Key = KEY) -> PodEIP | None:
        body = self.world.podeips.get(key)
        return PodEIP.model_validate(body) if body else None

    def delete_podeip(self, key: Key = KEY) -> None:
        stored = self.world.podeips.get(key)
        if stored is None:
            return
        stored["metadata"]["deletionTimestamp"] = _kube_time(self.now())

    def calls(self, action: str) -> int:
        return len([call for call in self.engine.mutations() if call.action == action])

    def allocated(self) -> set[str]:
        """The EIPs Allocate made (a replay of a token answers the same EIP: counted once)."""
        return {
            call.allocation_id or ""
            for call in self.engine.mutations()
            if call.action == "AllocateEipAddress"
        }

    def reasons(self) -> list[str]:
        return [event.reason for event in self.world.events]

    def _writes(self) -> tuple[int, int, int]:
        """What would bring a key back through a watch event: PodEIP and pod writes."""
        w = self.world
        return w.version, len(w.pod_annotations), len(w.pod_conditions)

    # ---- passes -------------------------------------------------------------------------
    async def once(self, key: Key = KEY) -> Requeue | None:
        try:
            await self.reconciler.reconcile(key)
        except Requeue as requeue:
            return requeue
        return None

    async def settle(self, key: Key = KEY, *, passes: int = 60, horizon: float = 600.0) -> int:
        """Passes until one asks for nothing and writes nothing (or a wait beyond ``horizon``
        seconds, or ``passes`` run out: a test that needs quiet asserts on the state). Returns
        the number of passes run."""
        start = self.clock()
        for run in range(1, passes + 1):
            version = self._writes()
            requeue = await self.once(key)
            if requeue is None and self._writes() == version:
                return run
            after = requeue.after if requeue is not None else 0.0
            if self.clock() + after - start > horizon:
                return run
            self.clock.advance(after)
        return passes
