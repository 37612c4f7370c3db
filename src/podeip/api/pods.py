"""A typed view of the few pod fields the operator reads.

Pods arrive as raw dicts (kopf bodies, API responses, manifests in ``podeip lint``). Reading
``body["metadata"]["ownerReferences"]`` in many places invites ``KeyError``s and subtly
different interpretations of "the owner" or "gone"; this view reads each field once, with
Kubernetes' defaults for absent ones, and names the rules (controller owner, gone phases,
declared readiness gate) in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from podeip import constants
from podeip.api.podeip import KubeTime

#: Phases after which a pod's containers will never run again: the pod counts as gone.
GONE_PHASES = frozenset({"Succeeded", "Failed"})

_TIME: TypeAdapter[datetime] = TypeAdapter(KubeTime)


@dataclass(frozen=True, slots=True)
class PodCondition:
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Owner:
    """The controller ownerReference: ``kind`` as written (group ignored), and ``name``."""

    kind: str
    name: str
    api_version: str = ""
    uid: str = ""

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class PodView:
    name: str
    namespace: str
    uid: str
    annotations: Mapping[str, str]
    labels: Mapping[str, str]
    owner: Owner | None
    node_name: str | None
    phase: str | None
    pod_ip: str | None
    pod_ips: tuple[str, ...]
    host_network: bool
    readiness_gates: tuple[str, ...]
    deletion_timestamp: datetime | None
    conditions: tuple[PodCondition, ...]
    #: Resource names any container requests or limits (``cpu``, ``tke.cloud.tencent.com/eip``).
    resource_names: frozenset[str] = frozenset()

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> PodView:
        meta = _mapping(body.get("metadata"))
        spec = _mapping(body.get("spec"))
        status = _mapping(body.get("status"))
        return cls(
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
            uid=str(meta.get("uid") or ""),
            annotations=_strings(meta.get("annotations")),
            labels=_strings(meta.get("labels")),
            owner=controller_owner(meta.get("ownerReferences")),
            node_name=spec.get("nodeName") or None,
            phase=status.get("phase") or None,
            pod_ip=status.get("podIP") or None,
            pod_ips=tuple(str(_mapping(item).get("ip")) for item in status.get("podIPs") or () if item),
            host_network=bool(spec.get("hostNetwork", False)),
            readiness_gates=tuple(
                str(_mapping(gate).get("conditionType")) for gate in spec.get("readinessGates") or () if gate
            ),
            deletion_timestamp=_time(meta.get("deletionTimestamp")),
            conditions=tuple(_condition(_mapping(item)) for item in status.get("conditions") or ()),
            resource_names=resource_names(spec),
        )

    @property
    def is_gone(self) -> bool:
        """Succeeded or Failed: the pod keeps its name but will never run again."""
        return self.phase in GONE_PHASES

    @property
    def is_terminating(self) -> bool:
        return self.deletion_timestamp is not None

    @property
    def declares_eip_gate(self) -> bool:
        return constants.READINESS_GATE in self.readiness_gates

    def condition(self, condition_type: str) -> PodCondition | None:
        return next((c for c in self.conditions if c.type == condition_type), None)


def resource_names(spec: Mapping[str, Any]) -> frozenset[str]:
    """The resource names in the requests and limits of every container and init container."""
    names: set[str] = set()
    for group in ("containers", "initContainers"):
        containers = spec.get(group)
        for container in containers if isinstance(containers, list) else ():
            resources = _mapping(_mapping(container).get("resources"))
            for part in ("requests", "limits"):
                names.update(str(name) for name in _mapping(resources.get(part)))
    return frozenset(names)


def controller_owner(references: object) -> Owner | None:
    """The ownerReference with ``controller: true``; ``None`` for a bare pod."""
    for reference in references if isinstance(references, list) else ():
        ref = _mapping(reference)
        if ref.get("controller") is True:
            return Owner(
                kind=str(ref.get("kind") or ""),
                name=str(ref.get("name") or ""),
                api_version=str(ref.get("apiVersion") or ""),
                uid=str(ref.get("uid") or ""),
            )
    return None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: object) -> Mapping[str, str]:
    return {str(k): str(v) for k, v in _mapping(value).items() if v is not None}


def _time(value: object) -> datetime | None:
    return _TIME.validate_python(value) if value else None


def _condition(item: Mapping[str, Any]) -> PodCondition:
    return PodCondition(
        type=str(item.get("type") or ""),
        status=str(item.get("status") or ""),
        reason=item.get("reason"),
        message=item.get("message"),
        last_transition_time=_time(item.get("lastTransitionTime")),
    )
