"""The dependencies of a reconcile pass, built once by the composition root (``podeip.app``)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from podeip import constants as c
from podeip.api.podeip import PodEIP
from podeip.api.pods import PodView
from podeip.cloud.clock import Clock
from podeip.cloud.provider import EipProvider
from podeip.domain.annotations import candidate_keys
from podeip.k8s.client import KubeClient
from podeip.k8s.connection import KubeConnection
from podeip.k8s.events import EventRecorder, ObjectRef
from podeip.k8s.leases import Claims
from podeip.k8s.podeips import PodEIPs
from podeip.k8s.pods import Pods
from podeip.k8s.view import ClusterView
from podeip.observability.metrics import Metrics
from podeip.reconcile.queue import Key
from podeip.settings import Settings

#: Any of these annotations makes a pod ours to look at (both prefixes, and the aliases).
ENABLING_KEYS = frozenset(
    candidate_keys(c.POD_WITH_EIP)
    + candidate_keys(c.POD_EIP_INSTANCE_ID)
    + candidate_keys(c.POD_EIP_INSTANCE_ID_LIST)
    + (c.TKE_EIP_ATTRIBUTES, c.TKE_EIP_ID_LIST)
)


def asks_for_eip(annotations: Mapping[str, str]) -> bool:
    """Whether a pod's annotations ask for an EIP (a pod with a PodEIP concerns us as well)."""
    return any(key in annotations for key in ENABLING_KEYS)


@dataclass
class Deps:
    """Everything a pass needs."""

    settings: Settings
    cluster_id: str
    connection: KubeConnection
    client: KubeClient
    pods: Pods
    podeips: PodEIPs
    events: EventRecorder
    claims: Claims
    cloud: EipProvider
    metrics: Metrics
    #: The status fields the installed CRD keeps (None: all). An AENC- or OKG-era CRD prunes
    #: ``conditions`` (and OKG's ``bandwidth``/``period``); writing them would loop on diffs.
    status_fields: frozenset[str] | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: Seconds on a monotonic scale, for every wait, backoff and recheck of a pass (the looks,
    #: claims, lost-EIP confirmation, owner rechecks): tests inject a ``ManualClock``.
    monotonic: Clock = time.monotonic
    enqueue: Callable[[Key], None] = lambda key: None
    #: Pods and PodEIPs as the watch and our writes' answers show them (k8s/view.py): a pass
    #: reads here. ``pods`` and ``podeips`` put their answers in (``ViewedPods``, ``ViewedPodEIPs``).
    view: ClusterView = field(default_factory=lambda: ClusterView(asks_for_eip=asks_for_eip))
    #: When the orphan sweep released (or tried to): its budget is per sliding hour (gc.py).
    released_at: deque[datetime] = field(default_factory=deque)


def log_fields(
    podeip: PodEIP | None = None,
    pod: PodView | None = None,
    *,
    allocation_id: str | None = None,
    operation: str | None = None,
    request_id: str | None = None,
) -> dict[str, str]:
    """The structured fields of a reconcile log line, for ``extra=`` as the cloud layer does
    (observability/logging.py renders them): ``namespace``, ``pod``, ``podeip_uid``,
    ``allocation_id``, and ``operation``, ``request_id`` for a cloud call; each when known.
    A PodEIP and its pod share namespace and name."""
    fields: dict[str, str] = {}
    if pod is not None:
        fields["namespace"], fields["pod"] = pod.namespace, pod.name
    if podeip is not None:
        fields["namespace"] = podeip.metadata.namespace or ""
        fields["pod"] = podeip.metadata.name or ""
        fields["podeip_uid"] = podeip.metadata.uid or ""
        allocation_id = allocation_id or podeip.spec.allocation_id or None
    if allocation_id:
        fields["allocation_id"] = allocation_id
    if operation:
        fields["operation"] = operation
    if request_id:
        fields["request_id"] = request_id
    return fields


def pod_ref(pod: PodView) -> ObjectRef:
    return ObjectRef(api_version="v1", kind="Pod", namespace=pod.namespace, name=pod.name, uid=pod.uid)


def podeip_ref(podeip: PodEIP) -> ObjectRef:
    meta = podeip.metadata
    return ObjectRef(
        api_version=podeip.api_version,
        kind=c.KIND,
        namespace=meta.namespace or "",
        name=meta.name or "",
        uid=meta.uid or "",
    )
