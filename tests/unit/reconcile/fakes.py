"""An in-memory Kubernetes for reconcile passes that must not reach the cloud.

Only what a pass needs before its first cloud call: pods and nodes to read, PodEIPs to create,
read and patch, Events and pod outputs to record. Bodies go through the same serialisation as
the real client (``json.dumps(...).encode()``), and come back as the API server would give
them: decoded as strict UTF-8 JSON, with every lone surrogate replaced by U+FFFD as Go's
``encoding/json`` does. So a request whose text the API server would alter does not survive the
round trip, and the tests see it.

A pass reads the world from the operator's view (``podeip.k8s.view``): before every pass the
world delivers each of its objects to the view, as the watch would (``World.deliver``), and the
operator's writes go through the same ``ViewedPods``/``ViewedPodEIPs`` that put their answers in.

The cloud is a tripwire: any attribute read on it fails the test.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from podeip.cloud.observed import ObservedEips
from podeip.k8s import errors as kube_errors
from podeip.k8s.view import ClusterView, ViewedPodEIPs, ViewedPods
from podeip.reconcile.deps import Deps, asks_for_eip
from podeip.reconcile.podeip import Reconciler
from podeip.reconcile.queue import Key
from podeip.settings import Settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _go_strings(value: Any) -> Any:
    if isinstance(value, str):
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)
    if isinstance(value, list):
        return [_go_strings(item) for item in value]
    if isinstance(value, dict):
        return {_go_strings(k): _go_strings(v) for k, v in value.items()}
    return value


def over_the_wire(body: Any) -> Any:
    """What the API server stores for a body the client sends."""
    data = json.dumps(body).encode()
    return _go_strings(json.loads(data.decode("utf-8", errors="strict")))


def _missing(what: str) -> kube_errors.NotFound:
    return kube_errors.NotFound(status=404, reason="NotFound", message=what)


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class CloudTripwire:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a cloud call ({name}) before the pod is scheduled and has its IP")


@dataclass
class Recorded:
    type: str
    reason: str
    message: str
    kind: str


@dataclass
class World:
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    podeips: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[Recorded] = field(default_factory=list)
    pod_annotations: list[dict[str, Any]] = field(default_factory=list)
    pod_conditions: list[dict[str, Any]] = field(default_factory=list)
    #: Static claims: allocation ID → holder identity (read-only here: passes before any claim).
    claims: dict[str, str] = field(default_factory=dict)
    version: int = 0
    #: What the watch delivered last to each view: (resource, key) → body (for DELETED events).
    delivered: dict[ClusterView, dict[tuple[str, Key], dict[str, Any]]] = field(default_factory=dict)

    # ---- the watch ----------------------------------------------------------------------
    def deliver(self, view: ClusterView) -> None:
        """Every object to the view as a watch event (MODIFIED; DELETED for what went)."""
        current = {("pods", key): body for key, body in self.pods.items()}
        current |= {("podeips", key): body for key, body in self.podeips.items()}
        for (resource, key), body in list(self.delivered.get(view, {}).items()):
            if (resource, key) not in current or current[(resource, key)]["metadata"].get("uid") != body[
                "metadata"
            ].get("uid"):
                event = view.pod_event if resource == "pods" else view.podeip_event
                event("DELETED", body)
        # PodEIPs first, so that a pod with a PodEIP concerns us.
        for (resource, _), body in sorted(current.items(), key=lambda item: item[0][0] == "pods"):
            event = view.pod_event if resource == "pods" else view.podeip_event
            event("MODIFIED", copy.deepcopy(body))
        self.delivered[view] = {item: copy.deepcopy(body) for item, body in current.items()}

    # ---- pods ---------------------------------------------------------------------------
    async def get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        if (namespace, name) not in self.pods:
            raise _missing(f"pod {namespace}/{name}")
        return copy.deepcopy(self.pods[(namespace, name)])

    async def patch_pod_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str | None], *, uid: str | None = None
    ) -> dict[str, Any]:
        self.pod_annotations.append(over_the_wire(dict(annotations)))
        pod = self.pods[(namespace, name)]
        _merge(pod.setdefault("metadata", {}).setdefault("annotations", {}), annotations)
        return copy.deepcopy(pod)

    async def set_pod_condition(
        self, namespace: str, name: str, *, uid: str, condition: Mapping[str, str]
    ) -> dict[str, Any]:
        self.pod_conditions.append(over_the_wire(dict(condition)))
        return copy.deepcopy(self.pods[(namespace, name)])

    async def show(
        self,
        namespace: str,
        name: str,
        *,
        uid: str,
        annotations: Mapping[str, str | None] | None,
        condition: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        """One request (``Pods.show``), recorded as its two parts."""
        body: dict[str, Any] = {}
        if annotations is not None:
            body = await self.patch_pod_annotations(namespace, name, annotations, uid=uid)
        if condition is not None:
            body = await self.set_pod_condition(namespace, name, uid=uid, condition=condition)
        return body

    # ---- nodes (the client's generic GET) -----------------------------------------------
    async def get(self, path: str) -> dict[str, Any]:
        name = path.rsplit("/", 1)[-1]
        if not path.startswith("/api/v1/nodes/") or name not in self.nodes:
            raise _missing(path)
        return copy.deepcopy(self.nodes[name])

    # ---- PodEIPs ------------------------------------------------------------------------
    def _next_version(self) -> str:
        self.version += 1
        return str(self.version)

    def created_at(self) -> datetime:
        """The creation time written on a new PodEIP (the passes' clock, where they have one)."""
        return NOW

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        if key in self.podeips:
            raise kube_errors.AlreadyExists(status=409, reason="AlreadyExists", message=str(key))
        stored = over_the_wire({"apiVersion": "alibabacloud.com/v1beta1", "kind": "PodEIP", **body})
        stored["metadata"] |= {
            "uid": f"podeip-uid-{self._next_version()}",
            "resourceVersion": str(self.version),
            "generation": 1,
            "creationTimestamp": self.created_at().strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self.podeips[key] = stored
        return copy.deepcopy(stored)

    async def get_podeip(self, namespace: str, name: str) -> dict[str, Any]:
        if (namespace, name) not in self.podeips:
            raise _missing(f"podeip {namespace}/{name}")
        return copy.deepcopy(self.podeips[(namespace, name)])

    async def patch_status(
        self,
        namespace: str,
        name: str,
        status_patch: Mapping[str, Any],
        *,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        stored = self.podeips.get((namespace, name))
        if stored is None:
            raise _missing(name)
        _merge(stored.setdefault("status", {}), over_the_wire(dict(status_patch)))
        stored["metadata"]["resourceVersion"] = self._next_version()
        return copy.deepcopy(stored)

    async def patch_metadata_and_spec(
        self, namespace: str, name: str, patch: Mapping[str, Any], *, resource_version: str
    ) -> dict[str, Any]:
        stored = self.podeips.get((namespace, name))
        if stored is None:
            raise _missing(name)
        if resource_version and stored["metadata"]["resourceVersion"] != resource_version:
            raise kube_errors.Conflict(status=409, reason="Conflict", message=name)
        wired = over_the_wire(dict(patch))
        # JSON null survives the wire as None: a merge patch deletes those keys.
        _merge(stored, wired)
        stored["metadata"]["resourceVersion"] = self._next_version()
        return copy.deepcopy(stored)

    # ---- claims (read) -------------------------------------------------------------------
    async def get_holder(self, allocation_id: str) -> str | None:
        return self.claims.get(allocation_id)

    # ---- Events -------------------------------------------------------------------------
    async def record(self, obj: Any, *, type: str, reason: str, message: str) -> None:
        self.events.append(Recorded(type, reason, message, obj.kind))

    async def normal(self, obj: Any, *, reason: str, message: str) -> None:
        await self.record(obj, type="Normal", reason=reason, message=message)

    async def warning(self, obj: Any, *, reason: str, message: str) -> None:
        await self.record(obj, type="Warning", reason=reason, message=message)


class _PodEIPs:
    """The PodEIPs API of the world (its ``get`` is named apart from the nodes' GET)."""

    def __init__(self, world: World) -> None:
        self.create = world.create
        self.get = world.get_podeip
        self.patch_status = world.patch_status
        self.patch_metadata_and_spec = world.patch_metadata_and_spec


class WatchedReconciler(Reconciler):
    """The reconciler, with the world delivered to its view before each pass (a prompt watch)."""

    def __init__(self, deps: Deps, world: World) -> None:
        super().__init__(deps)
        self.world = world

    async def reconcile(self, key: Key) -> None:
        self.world.deliver(self.d.view)
        await super().reconcile(key)


def viewed(world: Any, podeips: Any, view: ClusterView) -> tuple[Any, Any]:
    """The world's pods and PodEIPs APIs, putting their answers into ``view``."""
    return ViewedPods(world, view), ViewedPodEIPs(podeips, view)


def reconciler(world: World, settings: Settings | None = None, *, clock: Any = None) -> Reconciler:
    view = ClusterView(asks_for_eip=asks_for_eip)
    pods, podeips = viewed(world, _PodEIPs(world), view)
    deps = Deps(
        settings=settings or Settings(cloud={"provider": "simulated"}),
        cluster_id="c-unit",
        connection=None,  # type: ignore[arg-type]
        client=world,  # type: ignore[arg-type]
        pods=pods,
        podeips=podeips,
        events=world,  # type: ignore[arg-type]
        claims=world,  # type: ignore[arg-type]
        cloud=ObservedEips(CloudTripwire()),  # type: ignore[arg-type]
        metrics=None,  # type: ignore[arg-type]
        clock=clock or (lambda: NOW),
        view=view,
    )
    return WatchedReconciler(deps, world)


def pod_body(
    name: str,
    annotations: Mapping[str, str],
    *,
    node: str | None = "node-a",
    pod_ip: str | None = None,
    phase: str = "Pending",
    uid: str = "pod-uid-1",
    owner: str | None = "StatefulSet",
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "uid": uid, "annotations": dict(annotations)}
    if owner:
        meta["ownerReferences"] = [
            {"kind": owner, "name": "web", "controller": True, "apiVersion": "apps/v1"}
        ]
    spec: dict[str, Any] = {
        "containers": [{"name": "main"}],
        "readinessGates": [{"conditionType": "k8s.aliyun.com/eip"}],
    }
    if node:
        spec["nodeName"] = node
    status: dict[str, Any] = {"phase": phase}
    if pod_ip:
        status["podIP"] = pod_ip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def node_body(name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": dict(labels)}}
