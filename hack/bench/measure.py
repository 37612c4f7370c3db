"""Pure measurements of a benchmark run: percentiles, rates, counter sums, first-poll gaps."""

from __future__ import annotations

import collections
import dataclasses
import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence

from podeip import constants as c
from podeip.simulator.state import CallRecord

#: The call whose first poll the gaps are measured after.
ASSOCIATE = "AssociateEipAddress"


# ---- pure helpers (unit-tested) -------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between closest ranks; NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rate_per_minute(stamps: Iterable[float]) -> float:
    """Average rate of events between the first and the last one, per minute (NaN below 2)."""
    ordered = sorted(stamps)
    if len(ordered) < 2 or ordered[-1] <= ordered[0]:
        return math.nan
    return (len(ordered) - 1) / (ordered[-1] - ordered[0]) * 60.0


def metric_sums(text: str, name: str, keep: Callable[[dict[str, str]], bool]) -> dict[str, float]:
    """Sum a Prometheus counter from the text exposition by its ``resource`` label, for kept samples."""
    sums: dict[str, float] = collections.defaultdict(float)
    pattern = re.compile(rf"^{re.escape(name)}\{{(.*)\}} (\S+)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            if keep(labels):
                sums[labels.get("resource", "")] += float(match.group(2))
    return dict(sums)


def first_poll_gaps(calls: Sequence[CallRecord]) -> list[float]:
    """Seconds from each OK Associate's answer to the next Describe of the same EIP (the first poll)."""
    gaps = []
    for i, call in enumerate(calls):
        if call.action == ASSOCIATE and call.ok:
            after = (
                x for x in calls[i + 1 :] if x.action == "DescribeEipAddresses" and x.started >= call.ended
            )
            poll = next((x for x in after if x.params.get("AllocationId") == call.allocation_id), None)
            if poll is not None:
                gaps.append(poll.started - call.ended)
    return gaps


def fmt(value: float, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}{unit}"


def _podeip_gets(labels: dict[str, str]) -> bool:
    return labels.get("verb") == "get" and labels.get("resource") == c.PLURAL


def statistics_median(values: list[float]) -> float:
    return percentile(values, 50)


# ---- Kubernetes requests by verb and resource ------------------------------------------------
#: Verbs that read (they spend the same client budget as writes: the operator's one rate limiter).
READ_VERBS = frozenset({"get", "list", "watch"})
#: The leader Lease's resource: its renewals are shown apart from the work.
LEASE = "leases"


def kube_counts(text: str, name: str = c.METRIC_KUBE_REQUESTS) -> dict[str, float]:
    """The counter by ``"verb resource"`` (HTTP codes summed), from the text exposition."""
    sums: dict[str, float] = collections.defaultdict(float)
    pattern = re.compile(rf"^{re.escape(name)}\{{(.*)\}} (\S+)$")
    for line in text.splitlines():
        if match := pattern.match(line):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            sums[f"{labels.get('verb', '')} {labels.get('resource', '')}"] += float(match.group(2))
    return dict(sums)


def counts_diff(after: dict[str, float], before: dict[str, float], *, per: float = 1.0) -> dict[str, float]:
    """``after - before`` per key, divided by ``per``; keys that did not move are left out."""
    return {k: (v - before.get(k, 0.0)) / per for k, v in sorted(after.items()) if v != before.get(k, 0.0)}


def split_lease(counts: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(the work's requests, the leader Lease's requests)."""
    lease = {k: v for k, v in counts.items() if k.split(" ", 1)[-1] == LEASE}
    return {k: v for k, v in counts.items() if k not in lease}, lease


def reads_writes(counts: dict[str, float]) -> tuple[float, float]:
    reads = sum(v for k, v in counts.items() if k.split(" ", 1)[0] in READ_VERBS)
    return reads, sum(counts.values()) - reads


def by_resource(counts: dict[str, float]) -> dict[str, float]:
    """``"verb resource"`` counts summed per resource."""
    out: dict[str, float] = collections.defaultdict(float)
    for key, value in counts.items():
        out[key.split(" ", 1)[-1]] += value
    return dict(sorted(out.items()))


# ---- cloud calls attributed to the pods they served ------------------------------------------
def call_keys(call: CallRecord) -> set[str]:
    """Every value a call names: its allocation ID and each parameter value, comma lists split
    (``AllocationId=eip-a,eip-b``); ``PrivateIpAddress.N`` and ``ResourceId.N`` are values too."""
    keys = {call.allocation_id} if call.allocation_id else set()
    for value in call.params.values():
        keys.update(part.strip() for part in value.split(",") if part.strip())
    return keys


def tags_of(call: CallRecord) -> dict[str, str]:
    pattern = re.compile(r"^Tag\.(\d+)\.(Key|Value)$")
    items: dict[str, dict[str, str]] = collections.defaultdict(dict)
    for key, value in call.params.items():
        if m := pattern.match(key):
            items[m.group(1)][m.group(2)] = value
    return {item["Key"]: item.get("Value", "") for item in items.values() if "Key" in item}


def owners(calls: Iterable[CallRecord], namespace: str, pod_ips: dict[str, str]) -> dict[str, str]:
    """Which pod (by name) each key belongs to: the allocation IDs and PodEIP UIDs that the
    namespace's Allocate calls name (by their pod-name tag), and the pods' IPs."""
    owner = dict(pod_ips)
    for call in calls:
        tags = tags_of(call)
        if call.action == "AllocateEipAddress" and tags.get(c.TAG_NAMESPACE) == namespace:
            pod = tags.get(c.TAG_POD_NAME, "")
            if call.allocation_id:
                owner[call.allocation_id] = pod
            if tags.get(c.TAG_PODEIP_UID):
                owner[tags[c.TAG_PODEIP_UID]] = pod
    return owner


def pods_served(call: CallRecord, owner: dict[str, str], namespace: str) -> set[str]:
    """The pods a call served: the owners of the keys it names, and the pod its tags name."""
    pods = {owner[key] for key in call_keys(call) if key in owner}
    tags = tags_of(call)
    if tags.get(c.TAG_NAMESPACE) == namespace and tags.get(c.TAG_POD_NAME):
        pods.add(tags[c.TAG_POD_NAME])
    return pods


@dataclasses.dataclass
class Attribution:
    """Cloud calls charged to pods: a call that served k pods counts 1/k for each, so that a
    batched call is neither hidden nor counted k times. ``shared`` are the calls that named none
    of the pods (the GC's listing by tags, which serves every PodEIP at once)."""

    per_pod: dict[str, dict[str, float]]
    shared: dict[str, int]
    #: Batched calls (several AllocationIds, PrivateIpAddress.N, ResourceId.N), by action: how
    #: many, and how many items they asked about in all.
    batched: dict[str, tuple[int, int]]

    def by_action(self, pods: int) -> dict[str, float]:
        """Calls per pod by action, over ``pods`` pods."""
        out: dict[str, float] = collections.defaultdict(float)
        for calls in self.per_pod.values():
            for action, n in calls.items():
                out[action] += n / pods
        return dict(sorted(out.items()))


def batch_items(call: CallRecord) -> list[str]:
    """The items of a batched call, one per EIP or pod it asks about: a comma list of
    ``AllocationId``, or ``PrivateIpAddress.N``, or ``ResourceId.N`` (empty: not batched)."""
    ids = [part.strip() for part in call.params.get("AllocationId", "").split(",") if part.strip()]
    if len(ids) > 1:
        return ids
    for name in ("PrivateIpAddress", "ResourceId"):
        numbered = [v for k, v in call.params.items() if re.fullmatch(rf"{name}\.\d+", k)]
        if len(numbered) > 1:
            return numbered
    return []


def attribute(calls: Iterable[CallRecord], owner: dict[str, str], namespace: str) -> Attribution:
    """A batched call of k items counts 1/k for each item's pod (items of other pods, say those at
    rest in another namespace, are theirs: not charged here); any other call counts 1/k for each
    of the k pods it served."""
    per_pod: dict[str, dict[str, float]] = collections.defaultdict(lambda: collections.defaultdict(float))
    shared: collections.Counter[str] = collections.Counter()
    batched: dict[str, tuple[int, int]] = {}
    for call in calls:
        items = batch_items(call)
        if items:
            mine = collections.Counter(owner[item] for item in items if item in owner)
            shares = {pod: n / len(items) for pod, n in mine.items()}
            n, k = batched.get(call.action, (0, 0))
            batched[call.action] = (n + 1, k + len(items))
        else:
            pods = pods_served(call, owner, namespace)
            shares = {pod: 1 / len(pods) for pod in pods}
        if not shares:
            shared[call.action] += 1
        for pod, share in shares.items():
            per_pod[pod][call.action] += share
    return Attribution({p: dict(v) for p, v in per_pod.items()}, dict(shared), batched)


# ---- floors -----------------------------------------------------------------------------------
def one_pod_latency(parts: dict[str, float], transition: float) -> float:
    """L₁: Allocate and DescribeNetworkInterfaces are independent once the pod has its IP, so the
    physical floor is max(Allocate, DNI) + Associate + the Associating → InUse transition."""
    alloc, dni = parts.get("AllocateEipAddress", 0.0), parts.get("DescribeNetworkInterfaces", 0.0)
    return max(alloc, dni) + parts.get(ASSOCIATE, 0.0) + transition


def queued_floor(rank: int, *, burst: int, per_minute: float, l1: float) -> float:
    """When the ``rank``-th pod of a burst (1-based) can be bound at best: it waits for its
    Associate token behind the ``rank − 1`` before it, at ``per_minute`` after ``burst`` at once,
    plus one pod's latency. All ready: rank N, (N − burst)/R + L₁; p50: rank ⌈N/2⌉."""
    return max(0, rank - burst) * 60.0 / per_minute + l1


# ---- the GC's passes --------------------------------------------------------------------------
def is_listing(call: CallRecord) -> bool:
    """A page of the GC's listing of our EIPs: a DescribeEipAddresses by tags, no ID named."""
    return call.action == "DescribeEipAddresses" and "AllocationId" not in call.params


@dataclasses.dataclass(frozen=True)
class GcPasses:
    """The GC's passes in a window of the call log. A pass starts with page 1 of the listing; the
    operator sleeps its period after a pass ends, so a cycle (start to start) is the period plus
    the pass. Only whole cycles are counted: the calls from the first page 1 up to the last one."""

    cycles: int
    #: Every call of the whole cycles, by action, per cycle (what one GC period costs).
    calls_per_cycle: dict[str, float]
    pages_per_cycle: float
    #: Median seconds from a pass's first page to its last page's answer, and start to start.
    pass_seconds: float
    cycle_seconds: float


def gc_passes(calls: Sequence[CallRecord]) -> GcPasses:
    ordered = sorted(calls, key=lambda x: x.started)
    starts = [x.started for x in ordered if is_listing(x) and x.params.get("PageNumber", "1") == "1"]
    cycles = len(starts) - 1
    if cycles < 1:
        return GcPasses(0, {}, math.nan, math.nan, math.nan)
    inside = [x for x in ordered if starts[0] <= x.started < starts[-1]]
    per_action = collections.Counter(x.action for x in inside)
    durations = []
    for begin, end in itertools.pairwise(starts):
        pages = [x for x in inside if begin <= x.started < end and is_listing(x)]
        durations.append(max(x.ended for x in pages) - begin)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    return GcPasses(
        cycles,
        {a: n / cycles for a, n in sorted(per_action.items())},
        sum(is_listing(x) for x in inside) / cycles,
        statistics_median(durations),
        statistics_median(gaps),
    )


# ---- the leak audit ---------------------------------------------------------------------------
def audit(
    eips: Iterable[str], named: dict[str, str], pods: Iterable[str], gone: Iterable[str] = ()
) -> dict[str, list[str]]:
    """What should not exist at the end: EIPs of ours (tagged with our cluster ID, by allocation
    ID) that no PodEIP names, PodEIPs (by namespace/name, with the allocation ID they name) whose
    EIP is not there, PodEIPs whose pod is gone (Follow: they go with it), and any PodEIP of the
    ``gone`` pods. Empty lists: no leak."""
    ours, alive = set(eips), set(pods)
    held = {aid for aid in named.values() if aid}
    return {
        "EIPs no PodEIP names": sorted(ours - held),
        "PodEIPs without their EIP": sorted(k for k, aid in named.items() if aid not in ours),
        "PodEIPs without their pod": sorted(set(named) - alive),
        "PodEIPs of the deleted pods": sorted(set(named) & set(gone)),
    }
