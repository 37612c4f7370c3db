"""The stateful model of the operator (issue 12 item 5, docs/reliability.md S22).

A Hypothesis ``RuleBasedStateMachine`` drives the real reconciler on the in-process harness
(``harness.Bed``: the in-memory Kubernetes, the simulator's engine, one manual clock) through
random schedules of what users, the cloud and the process itself do: pods come and go (Auto or
Static, Follow, TTL or Never; a StatefulSet's, a Deployment's or bare), same-name pods come
back for the same or another owner, annotations are edited, the operator crashes, the next
cloud calls fail (errors, lost answers, throttling), time passes, someone acts on the cloud out
of band, a user creates or edits a PodEIP, the orphan sweep runs, and everything is drained.

Between rules a small work queue (``Driver``) runs the passes that are due, as the operator's
queue would: each key is run again after its ``Requeue``, a pass that wrote something is run
again, and keys the sweep or a teardown enqueues are run at once; time moves to the next due
key. A step ends when no key is due within ``HORIZON`` seconds (or after ``MAX_PASSES``).

The invariants read only what an outside observer can see, never the operator's memory: the
engine's EIPs and call log, and the world's stored pods and PodEIPs. After every step:

- I2: at most one EIP (not being released) is tagged with any PodEIP UID;
- I3/I4: only EIPs the operator allocated are ever released or tagged; EIPs that are neither
  ours nor Static (bound to an ECS instance, another cluster's, a user's own) get no mutating
  call at all; a Static EIP gets Associate and Unassociate only; a binding made out of band is
  never unbound;
- I6: no PodEIP disappears while an EIP tagged with its UID exists; no EIP is released while a
  PodEIP that is not being deleted names it;

after every *quiet* step (no fault pending, nothing due soon but idle retries):

- I1: every EIP we bound is bound to the live pod whose PodEIP names it (one pod per EIP; an
  EIP whose pod is gone is unbound at once, whatever the strategy). Not for an EIP whose tags
  were stripped out of band: without them nothing proves it ours (ownership rule 2; a binding
  record on the PodEIP could be forged), so by design it stays where it is when its pod goes;
  the operator reports it (``EipNotAdopted``) and re-tags it only while its pod still runs;

after ``drain`` (every pod deleted, every TTL and the orphan grace passed, every PodEIP
deleted, the sweep run):

- I5: no EIP carrying our cluster tag is left, and no PodEIP, except where an out-of-band
  binding holds one (the operator never takes it away) or a user's edit of a PodEIP left an
  EIP that the sweep then lists as an orphan;

and for every undisturbed Auto/Follow lifecycle (no fault, crash, out-of-band action or edit
while it lived):

- I7: at most ``LIFECYCLE_BUDGET`` cloud calls name its EIP, its pod IP or its UID, and
  no more than its four mutations (Allocate, Associate, Unassociate, Release);

and at quiet steps, for every running pod that asked for an Auto EIP and whose PodEIP nobody
else touched:

- L1: its EIP is bound to its IP and shown on its PodEIP (no wedge).

A crash is either between passes (``restart``) or right after a mutating cloud call succeeds,
before the pass records it (``crash_mid_pass``: the crash points of reliability.md §4).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from podeip import constants as c
from podeip.cloud.models import NETWORK_INTERFACE, EipStatus
from podeip.k8s import errors as kube_errors
from podeip.reconcile import gc
from podeip.reconcile.queue import Key
from podeip.simulator.engine import MUTATIONS
from podeip.simulator.faults import Fault
from unit.reconcile.harness import CLUSTER, Bed

T = TypeVar("T")

NS: Final = "ns"
SLOTS: Final = ("p0", "p1", "p2")
#: Pod IPs (the simulator resolves every address of its VPC to an ENI); fewer than pods ever
#: made, so a new pod often gets the IP of one that is gone (T7).
IPS: Final = tuple(f"198.51.100.{i}" for i in (11, 12, 13, 14))
K: Final = c.PREFIX_K8S
STRATEGIES: Final = ("Follow", "10m", "Never")
OWNERS: Final = ("StatefulSet", "ReplicaSet", None)
#: Seconds a step lets the queue run; a key due later ends the step.
HORIZON: Final = 40.0
#: A step is quiet when nothing is due within this many seconds but idle retries.
QUIET: Final = 130.0
MAX_PASSES: Final = 60
#: Cloud calls of one undisturbed Auto/Follow lifecycle. reliability.md S22 proposes 8; one
#: costs 7 (Allocate, DescribeNetworkInterfaces, Associate, a look, Unassociate, a look,
#: Release). The model found 10 and 11: the looks' learnt transition time is lowered by 5 %
#: after every wait that ends at its first look (looks.py ``settled``), so it drifts below the
#: engine's 0.5 s, down to POLL_MIN (0.25 s), and a wait then takes up to three looks (two
#: early ones POLL_MIN apart, then the one that sees it): 7 + 2 × 2 = 11. A finding for the
#: looks' owner, not a leak: the budget allows that much and no more, and at most 4 mutations.
LIFECYCLE_BUDGET: Final = 11
LIFECYCLE_MUTATIONS: Final = 4
GRACE: Final = 10 * 60

#: Examples and steps run this session (printed by conftest.py's terminal summary).
STATS: dict[str, float] = dict.fromkeys(
    ("examples", "steps", "passes", "quiet", "drains", "crashes", "seconds"), 0.0
)
#: The profile's settings, for the summary line.
PROFILE: dict[str, int] = {}


def profile() -> settings:
    """``PODEIP_MODEL_PROFILE=long`` for deeper runs (``make model-long``); the default runs in
    ``make test``. ``PODEIP_MODEL_EXAMPLES`` overrides the example count of either."""
    long = os.environ.get("PODEIP_MODEL_PROFILE", "") == "long"
    # Hypothesis ends a few examples early (it tries short ones too: about 80 % run all 50
    # steps, the mean is 44), so 600 examples make the 500 × 50 = 25,000 steps of the issue.
    examples = int(os.environ.get("PODEIP_MODEL_EXAMPLES", "0")) or (5_000 if long else 600)
    PROFILE.update(max_examples=examples, stateful_step_count=100 if long else 50)
    return settings(
        **PROFILE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        print_blob=True,
    )


def tagged_ours(tags: dict[str, str]) -> bool:
    return tags.get(c.TAG_CLUSTER_ID) == CLUSTER and tags.get(c.TAG_MANAGED_BY) == c.MANAGED_BY


@dataclass
class PodSpec:
    kind: str  # Auto | Static
    strategy: str
    owner: str | None
    owner_name: str = "web"
    static_id: str = ""
    uid: str = ""
    ip: str = ""

    def annotations(self) -> dict[str, str]:
        asks = {K + c.POD_EIP_INSTANCE_ID: self.static_id} if self.kind == "Static" else {}
        asks = asks or {K + c.POD_WITH_EIP: "true"}
        return asks | {K + c.RELEASE_STRATEGY: self.strategy}


@dataclass
class Lifecycle:
    """One PodEIP the operator created, for I7."""

    uid: str
    pod_ip: str
    follow_auto: bool
    first_call: int
    disturbed: bool = False


class Crash(BaseException):
    """The process dies (``os._exit``): raised through every handler of the pass."""


@dataclass
class Driver:
    """The work queue of the model: due time per key (on the bed's manual clock)."""

    bed: Bed
    due: dict[Key, float] = field(default_factory=dict)
    #: Keys whose last pass wrote nothing and made no mutating or failed cloud call.
    idle: set[Key] = field(default_factory=set)
    #: The process dies right after this many more mutating cloud calls succeed (0: never).
    crash_in: int = 0

    def __post_init__(self) -> None:
        engine = self.bed.engine
        handle = engine.handle

        def handle_then_crash(action: str, params: Any, *, ticket: Any = None) -> dict[str, Any]:
            answer = handle(action, params, ticket=ticket)
            if self.crash_in and action in MUTATIONS:
                self.crash_in -= 1
                if not self.crash_in:
                    raise Crash(action)  # the cloud did it; the process never learns
            return answer

        engine.handle = handle_then_crash  # type: ignore[method-assign]

    def restart(self) -> None:
        """A new process: all memory lost; its first listing runs every key."""
        self.bed.restart()
        self.due.clear()
        self.idle.clear()
        for key in set(self.bed.world.pods) | set(self.bed.world.podeips):
            self.add(key)

    def add(self, key: Key, after: float = 0.0) -> None:
        at = self.bed.clock() + after
        self.due[key] = min(self.due.get(key, math.inf), at)

    def _writes(self) -> tuple[int, int, int]:
        w = self.bed.world
        return w.version, len(w.pod_annotations), len(w.pod_conditions)

    async def run(self, *, horizon: float = HORIZON, passes: int = MAX_PASSES) -> int:
        bed = self.bed
        until = bed.clock() + horizon
        ran = 0
        while ran < passes:
            for key in bed.enqueued:
                self.add(key)
            bed.enqueued.clear()
            if not self.due:
                break
            key, at = min(self.due.items(), key=lambda item: (item[1], item[0]))
            if at > until:
                break
            bed.clock.advance(at - bed.clock())
            del self.due[key]
            writes, calls = self._writes(), len(bed.engine.calls)
            try:
                requeue = await bed.once(key)
                after = None if requeue is None else requeue.after
            except (kube_errors.ApiError, kube_errors.Conflict) as error:  # the queue retries it
                del error
                after = 1.0
            except Crash:
                STATS["crashes"] += 1
                self.restart()
                ran += 1
                continue
            ran += 1
            new_calls = bed.engine.calls[calls:]
            if self._writes() != writes or any(c.action in MUTATIONS or not c.ok for c in new_calls):
                self.idle.discard(key)
            elif new_calls:  # it looked, and found nothing to do (a pass held back proves nothing)
                self.idle.add(key)
            wrote = self._writes() != writes
            if after is not None:
                self.add(key, after)
            elif wrote:
                self.add(key)
        for key in bed.enqueued:
            self.add(key)
        bed.enqueued.clear()
        return ran

    def quiet(self) -> bool:
        """No fault pending, and nothing due soon but idle retries."""
        if len(self.bed.engine.faults) or self.crash_in:
            return False
        soon = self.bed.clock() + QUIET
        return all(at > soon or key in self.idle for key, at in self.due.items())


def run(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coroutine)


class OperatorModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.started = time.perf_counter()
        STATS["examples"] += 1
        self.loop = asyncio.new_event_loop()
        self.bed = Bed()
        self.driver = Driver(self.bed)
        engine = self.bed.engine
        self.static_ids = [engine.seed_eip(status=EipStatus.AVAILABLE).allocation_id for _ in range(2)]
        self.foreign_ids = [
            engine.seed_eip(instance_id="i-someone", instance_type="EcsInstance").allocation_id,
            engine.seed_eip(
                status=EipStatus.AVAILABLE,
                tags={c.TAG_CLUSTER_ID: "c-other", c.TAG_MANAGED_BY: c.MANAGED_BY, c.TAG_PODEIP_UID: "x"},
            ).allocation_id,
            engine.seed_eip(status=EipStatus.AVAILABLE).allocation_id,  # a user's own, never named by a pod
        ]
        #: EIPs the operator allocated (from the call log).
        self.ours: set[str] = set()
        #: EIPs bound out of band: the binding is not ours to undo.
        self.oob_bound: set[str] = set()
        #: EIPs whose tags were stripped out of band: until tagged again, no proof they are ours,
        #: so a binding of theirs is left alone by design (ownership rule 2; a record on the
        #: PodEIP could be forged) even when the pod goes.
        self.stripped: set[str] = set()
        #: Every EIP acted on out of band.
        self.oob_touched: set[str] = set()
        #: PodEIP UIDs a user created or whose spec a user edited, and the EIPs they named.
        self.tampered_uids: set[str] = set()
        self.tampered_eips: set[str] = set()
        #: Every PodEIP UID seen in the world.
        self.podeip_uids: set[str] = set()
        self.lifecycles: dict[str, Lifecycle] = {}
        self.last: dict[str, PodSpec] = {}
        self.serial = 0
        self.calls_checked = 0
        self.quiet = False

    def teardown(self) -> None:
        # Background reads still pending (an early ENI lookup of the last delivery) end here,
        # not as "Task was destroyed but it is pending" when the closed loop is collected.
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()

        async def ended() -> None:
            await asyncio.gather(*pending, return_exceptions=True)

        self.loop.run_until_complete(ended())
        self.loop.close()
        STATS["seconds"] += time.perf_counter() - self.started

    # ---- helpers ----------------------------------------------------------------------------
    def settle(self, *, horizon: float = HORIZON, passes: int = MAX_PASSES) -> None:
        STATS["passes"] += run(self.loop, self.driver.run(horizon=horizon, passes=passes))
        self.quiet = self.driver.quiet()
        STATS["quiet"] += self.quiet
        for body in self.bed.world.podeips.values():
            self.podeip_uids.add(body["metadata"]["uid"])

    def pod(self, slot: str) -> dict[str, Any] | None:
        return self.bed.world.pods.get((NS, slot))

    def podeip_body(self, slot: str) -> dict[str, Any] | None:
        return self.bed.world.podeips.get((NS, slot))

    def free_ip(self, index: int) -> str | None:
        used = {p.get("status", {}).get("podIP") for p in self.bed.world.pods.values()}
        free = [ip for ip in IPS if ip not in used]
        return free[index % len(free)] if free else None

    def disturb(self, uids: set[str] | None = None) -> None:
        """A fault, crash or out-of-band act: the lifecycles alive now are not measured (I7)."""
        for uid, life in self.lifecycles.items():
            if uids is None or uid in uids:
                life.disturbed = True

    def uid_of_eip(self, allocation_id: str) -> set[str]:
        return {
            body["metadata"]["uid"]
            for body in self.bed.world.podeips.values()
            if body.get("spec", {}).get("allocationID") == allocation_id
        }

    # ---- rules: pods ------------------------------------------------------------------------
    @initialize()
    def start(self) -> None:
        self.settle()

    @rule(
        slot=st.sampled_from(SLOTS),
        kind=st.sampled_from(("Auto", "Auto", "Static")),
        strategy=st.sampled_from(STRATEGIES),
        owner=st.sampled_from((*OWNERS, "same", "same", "other")),
        static=st.integers(0, 3),
        ip=st.integers(0, 3),
    )
    def create_pod(
        self, slot: str, kind: str, strategy: str, owner: str | None, static: int, ip: int
    ) -> None:
        """A pod asks for an EIP; "same" brings back a same-name pod of the last one's owner
        (its annotations too), "other" one of another owner."""
        if self.pod(slot) is not None:
            return
        address = self.free_ip(ip)
        if address is None:
            return
        last = self.last.get(slot)
        statics = [*self.static_ids, *self.foreign_ids[:2]]
        if owner == "same" and last is not None:
            spec = PodSpec(last.kind, last.strategy, last.owner, last.owner_name, last.static_id)
        elif owner == "other" and last is not None:
            spec = PodSpec(last.kind, last.strategy, last.owner, "other-" + last.owner_name, last.static_id)
        else:
            spec = PodSpec(kind, strategy, owner if owner in OWNERS else "StatefulSet")
            spec.static_id = statics[static] if kind == "Static" else ""
        self.serial += 1
        spec.uid, spec.ip = f"pod-{slot}-{self.serial}", address
        self.bed.add_pod(spec.annotations(), key=(NS, slot), pod_ip=address, uid=spec.uid, owner=spec.owner)
        if spec.owner:
            self.pod(slot)["metadata"]["ownerReferences"][0]["name"] = spec.owner_name  # type: ignore[index]
        if last is not None:
            self.disturb(self.uid_of_slot(slot))  # a reborn or refused pod: another lifecycle
        self.disturb({uid for uid, life in self.lifecycles.items() if life.pod_ip == address})
        self.last[slot] = spec
        self.driver.add((NS, slot))
        first = len(self.bed.engine.calls)
        self.settle()
        self.start_lifecycles(spec, slot, first)

    def uid_of_slot(self, slot: str) -> set[str]:
        body = self.podeip_body(slot)
        return {body["metadata"]["uid"]} if body else set()

    def start_lifecycles(self, spec: PodSpec, slot: str, first: int) -> None:
        body = self.podeip_body(slot)
        if body is None:
            return
        uid = body["metadata"]["uid"]
        if uid in self.lifecycles or body["metadata"].get("annotations", {}).get(c.ANN_POD_UID) != spec.uid:
            return
        follow_auto = (
            spec.kind == "Auto" and body["spec"]["allocationType"].get("releaseStrategy") == "Follow"
        )
        life = Lifecycle(
            uid,
            spec.ip,
            follow_auto,
            first,
            disturbed=bool(len(self.bed.engine.faults) or self.driver.crash_in),
        )
        self.lifecycles[uid] = life

    @rule(slot=st.sampled_from(SLOTS))
    def delete_pod(self, slot: str) -> None:
        if self.pod(slot) is None:
            return
        self.bed.delete_pod((NS, slot))
        self.driver.add((NS, slot))
        self.settle()

    @rule(
        slot=st.sampled_from(SLOTS),
        edit=st.sampled_from(
            (
                (K + c.RELEASE_STRATEGY, "Never"),
                (K + c.RELEASE_STRATEGY, "Follow"),
                (K + c.RELEASE_STRATEGY, "5m"),
                (K + c.POD_WITH_EIP, None),
                (K + c.EIP_BANDWIDTH, "lots"),
            )
        ),
    )
    def edit_annotations(self, slot: str, edit: tuple[str, str | None]) -> None:
        """Annotations are read at creation only: an edit changes nothing but an Event."""
        pod = self.pod(slot)
        if pod is None:
            return
        annotations = pod["metadata"]["annotations"]
        key, value = edit
        if value is None:
            annotations.pop(key, None)
        else:
            annotations[key] = value
        self.driver.add((NS, slot))
        self.settle()

    # ---- rules: the process, time and faults ------------------------------------------------
    @rule()
    def restart(self) -> None:
        """A crash: all memory lost; the new process lists everything (every key runs)."""
        self.driver.restart()
        self.disturb()
        self.settle()

    @rule(calls=st.integers(1, 4))
    def crash_mid_pass(self, calls: int) -> None:
        """The process dies right after its ``calls``-th next successful mutating cloud call
        (before it records anything of it), and starts again with no memory."""
        if self.driver.crash_in:
            return
        self.driver.crash_in = calls
        self.disturb()
        self.settle()

    @rule(
        times=st.integers(1, 4),
        action=st.sampled_from(
            (
                "*",
                "AllocateEipAddress",
                "AssociateEipAddress",
                "UnassociateEipAddress",
                "ReleaseEipAddress",
                "DescribeEipAddresses",
                "DescribeNetworkInterfaces",
            )
        ),
        code=st.sampled_from(
            ("InternalError", None, "Throttling.User", "Forbidden.RAM", "ServiceUnavailable")
        ),
    )
    def fail_next_calls(self, times: int, action: str, code: str | None) -> None:
        """The next ``times`` matching calls fail; ``None`` loses the answer of a call that
        happened (commit, then drop)."""
        if len(self.bed.engine.faults):
            return
        self.bed.engine.faults.add(Fault(action=action, code=code, times=times))
        self.disturb()
        self.settle()

    @rule(seconds=st.sampled_from((1.0, 6.0, 31.0, 125.0, 301.0, 601.0)))
    def advance_clock(self, seconds: float) -> None:
        self.bed.clock.advance(seconds)
        self.settle()

    # ---- rules: the cloud, out of band -----------------------------------------------------
    def _oob_target(self, index: int) -> str | None:
        engine = self.bed.engine
        candidates = sorted(
            (self.ours | set(self.static_ids)) & {e.allocation_id for e in engine.eips()},
        )
        if not candidates:
            return None
        allocation_id = candidates[index % len(candidates)]
        record = engine.eip_records[allocation_id]
        if record.pending is not None or record.status in (
            EipStatus.ASSOCIATING,
            EipStatus.UNASSOCIATING,
            EipStatus.RELEASING,
        ):
            return None  # a console waits for the transition too
        return allocation_id

    @rule(
        act=st.sampled_from(("release", "unassociate", "strip_tags", "bind_elsewhere")),
        index=st.integers(0, 7),
    )
    def out_of_band(self, act: str, index: int) -> None:
        allocation_id = self._oob_target(index)
        if allocation_id is None:
            return
        engine = self.bed.engine
        record = engine.eip_records[allocation_id]
        if act == "release":
            if record.status is not EipStatus.AVAILABLE:
                return  # the console releases only what is unbound
            engine.delete_eip(allocation_id)
            self.oob_bound.discard(allocation_id)
        elif act == "unassociate":
            if record.status is not EipStatus.IN_USE:
                return
            engine.edit_eip(
                allocation_id, status=EipStatus.AVAILABLE, instance_id="", instance_type="", private_ip=""
            )
            self.oob_bound.discard(allocation_id)
        elif act == "strip_tags":
            if not record.tags:
                return
            engine.edit_eip(allocation_id, tags={})
            self.stripped.add(allocation_id)
        else:
            if record.status is not EipStatus.AVAILABLE:
                return
            engine.edit_eip(
                allocation_id,
                status=EipStatus.IN_USE,
                instance_id="i-elsewhere",
                instance_type="EcsInstance",
                private_ip="",
            )
            self.oob_bound.add(allocation_id)
        self.oob_touched.add(allocation_id)
        self.disturb(self.uid_of_eip(allocation_id) | self.uids_tagged(allocation_id))
        self.settle()

    def uids_tagged(self, allocation_id: str) -> set[str]:
        record = self.bed.engine.eip_records.get(allocation_id)
        uid = record.tags.get(c.TAG_PODEIP_UID) if record else None
        return {uid} if uid else set()

    # ---- rules: a user and their PodEIPs ------------------------------------------------------
    @rule(
        slot=st.sampled_from(SLOTS),
        pick=st.integers(0, 9),
        kind=st.sampled_from(("Auto", "Static")),
        strategy=st.sampled_from(("Follow", "Never", "TTL")),
    )
    def user_podeip(self, slot: str, pick: int, kind: str, strategy: str) -> None:
        """A PodEIP written by someone else: created naming an EIP (any: ours, Static, foreign),
        as a migration tool the admission policy allows does; or an existing one's allocation ID
        set while it is still empty. The chart's ValidatingAdmissionPolicy refuses every other
        edit of ``spec.allocationID`` and ``spec.allocationType`` (the operator's own guard for
        a cluster without it is tested in test_regressions.py)."""
        named = sorted(self.ours | set(self.static_ids) | set(self.foreign_ids))
        allocation_id = named[pick % len(named)]
        allocation_type: dict[str, Any] = {"type": kind, "releaseStrategy": strategy}
        if strategy == "TTL":
            allocation_type["releaseAfter"] = "10m"
        body = self.podeip_body(slot)
        if body is None:
            created = run(
                self.loop,
                self.bed.world.create(
                    {
                        "metadata": {"name": slot, "namespace": NS},
                        "spec": {"allocationID": allocation_id, "allocationType": allocation_type},
                    }
                ),
            )
            self.tampered_uids.add(created["metadata"]["uid"])
        else:
            if body["metadata"].get("deletionTimestamp") or (body.get("spec") or {}).get("allocationID"):
                return
            self.tampered_uids.add(body["metadata"]["uid"])
            patch = {"spec": {"allocationID": allocation_id}}
            run(self.loop, self.bed.world.patch_metadata_and_spec(NS, slot, patch, resource_version=""))
        self.tampered_eips.add(allocation_id)
        self.disturb(
            self.uid_of_eip(allocation_id) | self.uids_tagged(allocation_id) | self.uid_of_slot(slot)
        )
        self.driver.add((NS, slot))
        self.settle()

    @rule(slot=st.sampled_from(SLOTS))
    def user_deletes_podeip(self, slot: str) -> None:
        """Documented for Never: a user deletes the PodEIP to release its EIP."""
        if self.podeip_body(slot) is None:
            return
        run(self.loop, self.bed.world.delete(NS, slot))
        self.disturb(self.uid_of_slot(slot))
        self.driver.add((NS, slot))
        self.settle()

    # ---- rules: the sweep, drain --------------------------------------------------------------
    @rule()
    def sweep(self) -> None:
        try:
            run(self.loop, gc.run_pass(self.bed.deps))
        except Crash:
            self.driver.restart()
        self.settle()

    @precondition(lambda self: bool(self.bed.world.pods or self.bed.world.podeips))
    @rule()
    def drain(self) -> None:
        """Delete every pod, let every TTL and the orphan grace pass, delete every PodEIP left,
        sweep: nothing of ours may be left (I5)."""
        STATS["drains"] += 1
        bed = self.bed
        self.bed.engine.faults.clear()
        self.driver.crash_in = 0
        for key in list(bed.world.pods):
            bed.delete_pod(key)
            self.driver.add(key)
        self.settle(horizon=600, passes=200)
        bed.clock.advance(GRACE + 1)
        for key in bed.world.podeips:
            self.driver.add(key)
        self.settle(horizon=600, passes=200)
        sweep = run(self.loop, gc.run_pass(bed.deps))
        for key in list(bed.world.podeips):
            run(self.loop, bed.world.delete(*key))
            self.driver.add(key)
        self.settle(horizon=600, passes=200)
        bed.clock.advance(GRACE + 1)
        last = run(self.loop, gc.run_pass(bed.deps))
        self.settle(horizon=600, passes=200)
        bed.clock.advance(60)  # releases finish
        listed = {
            allocation_id
            for pass_ in (sweep, last)
            for allocation_id in (*pass_.candidates, *pass_.released, *pass_.in_use_orphans)
        }
        left = [e for e in bed.engine.eips() if tagged_ours(e.tags)]
        stuck = {e.allocation_id for e in left if e.allocation_id in self.oob_bound}
        unexplained = [
            e
            for e in left
            if e.allocation_id not in stuck
            and not (e.allocation_id in listed and e.tags.get(c.TAG_PODEIP_UID) in self.tampered_uids)
            and not (e.allocation_id in listed and e.allocation_id in self.tampered_eips)
        ]
        assert not unexplained, f"I5: EIPs of ours left after drain: {unexplained}"
        podeips = [
            body
            for body in bed.world.podeips.values()
            if (body.get("spec") or {}).get("allocationID") not in stuck
        ]
        assert not podeips, f"I5: PodEIPs left after drain: {[b['metadata'] for b in podeips]}"

    # ---- invariants -----------------------------------------------------------------------------
    def _names(self, call: Any, uid: str, pod_ip: str, eips: set[str]) -> bool:
        values = set(call.params.values())
        return call.allocation_id in eips or uid in values or pod_ip in values

    @invariant()
    def calls_touch_only_what_is_ours(self) -> None:
        """I3, I4: the new calls of the step, in order."""
        STATS["steps"] += 1  # invariants run after every step (and once after the start)
        engine = self.bed.engine
        for call in engine.calls[self.calls_checked :]:
            if not call.committed or call.action not in MUTATIONS:
                continue
            targets = {call.allocation_id} | {
                v for k, v in call.params.items() if k.startswith("ResourceId.")
            }
            targets.discard("")
            if call.action == "AllocateEipAddress":
                self.ours |= targets
                continue
            foreign = targets & set(self.foreign_ids)
            assert not foreign, f"I4: {call.action} on an EIP that is not ours: {foreign}"
            if call.action in ("ReleaseEipAddress", "TagResources"):
                assert targets <= self.ours, f"I3: {call.action} on an EIP we did not allocate: {targets}"
            if call.action == "UnassociateEipAddress":
                assert not targets & self.oob_bound, f"R6: unbound a binding made out of band: {targets}"
        self.calls_checked = len(engine.calls)

    @invariant()
    def one_eip_per_podeip(self) -> None:
        """I2."""
        per_uid: dict[str, list[str]] = {}
        for eip in self.bed.engine.eips():
            if tagged_ours(eip.tags) and eip.status is not EipStatus.RELEASING:
                per_uid.setdefault(eip.tags.get(c.TAG_PODEIP_UID, ""), []).append(eip.allocation_id)
        doubled = {uid: ids for uid, ids in per_uid.items() if len(ids) > 1}
        assert not doubled, f"I2: more than one EIP per PodEIP UID: {doubled}"

    @invariant()
    def no_podeip_gone_while_its_eip_exists(self) -> None:
        """I6, both ways."""
        world = self.bed.world
        live = {body["metadata"]["uid"] for body in world.podeips.values()}
        for eip in self.bed.engine.eips():
            uid = eip.tags.get(c.TAG_PODEIP_UID, "")
            if (
                tagged_ours(eip.tags)
                and eip.status is not EipStatus.RELEASING
                and uid in self.podeip_uids
                and uid not in live
                and uid not in self.tampered_uids
                and eip.allocation_id not in self.tampered_eips
            ):
                raise AssertionError(f"I6: PodEIP {uid} is gone while its EIP {eip.allocation_id} exists")
        naming = {
            (body.get("spec") or {}).get("allocationID")
            for body in world.podeips.values()
            if not body["metadata"].get("deletionTimestamp")
            and body["metadata"]["uid"] not in self.tampered_uids
        }
        released = {
            call.allocation_id
            for call in self.bed.engine.calls[self.released_checked :]
            if call.action == "ReleaseEipAddress" and call.committed
        }
        self.released_checked = len(self.bed.engine.calls)
        assert not released & naming, f"I6: released an EIP a live PodEIP names: {released & naming}"

    released_checked = 0

    @invariant()
    def bound_only_to_its_own_pod(self) -> None:
        """I1, at quiet steps."""
        if not self.quiet:
            return
        world = self.bed.world
        pods_by_ip = {
            p["status"].get("podIP"): p for p in world.pods.values() if p["status"].get("phase") == "Running"
        }
        for eip in self.bed.engine.eips():
            if eip.status is not EipStatus.IN_USE or eip.instance_type != NETWORK_INTERFACE:
                continue
            if eip.allocation_id in self.oob_bound or eip.allocation_id in self.tampered_eips:
                continue
            if eip.allocation_id in self.stripped and not tagged_ours(eip.tags):
                continue
            ip = eip.private_ip_address
            pod = pods_by_ip.get(ip)
            assert pod is not None, f"I1: EIP {eip.allocation_id} stays bound to {ip}, where no pod is"
            key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            body = world.podeips.get(key) or {}
            recorded_pod = (body.get("metadata", {}).get("annotations") or {}).get(c.ANN_POD_UID)
            assert (body.get("spec") or {}).get("allocationID") == eip.allocation_id and recorded_pod == pod[
                "metadata"
            ]["uid"], (
                f"I1: EIP {eip.allocation_id} is bound to pod {key} ({ip}), whose PodEIP does not hold it"
            )

    @invariant()
    def every_pod_asking_is_served(self) -> None:
        """L1, at quiet steps: a running pod that asked for an Auto EIP, whose PodEIP is its own
        and untouched by anyone else, has that EIP bound to its IP and shown on the PodEIP."""
        if not self.quiet:
            return
        eips = {e.allocation_id: e for e in self.bed.engine.eips()}
        for (namespace, name), pod in self.bed.world.pods.items():
            spec = self.last.get(name)
            body = self.bed.world.podeips.get((namespace, name))
            if spec is None or spec.kind != "Auto" or spec.uid != pod["metadata"]["uid"] or body is None:
                continue
            meta, allocation_id = body["metadata"], (body.get("spec") or {}).get("allocationID", "")
            if (
                meta.get("deletionTimestamp")
                or (meta.get("annotations") or {}).get(c.ANN_POD_UID) != spec.uid
                or meta["uid"] in self.tampered_uids
                or allocation_id in self.oob_touched | self.tampered_eips
            ):
                continue
            eip = eips.get(allocation_id)
            other = [
                e
                for e in eips.values()
                if e.private_ip_address == spec.ip and e.allocation_id != allocation_id
            ]
            if other and eip is not None and eip.status is EipStatus.AVAILABLE:
                # Another EIP is on the pod's IP (bound out of band, or left by an EIP that is
                # no longer ours): Alibaba gives the IP one EIP, and that one is never taken
                # away. The pod waits, and the PodEIP says why.
                ready = [
                    x for x in (body.get("status") or {}).get("conditions") or () if x["type"] == "Ready"
                ]
                assert ready and ready[0]["reason"] == c.EV_POD_IP_STILL_BOUND, (
                    f"L1: pod {name}'s IP has {other[0].allocation_id}, its PodEIP does not say so: {ready}"
                )
                continue
            assert eip is not None and eip.status is EipStatus.IN_USE, (
                f"L1: pod {name} asked for an EIP and has none bound: {allocation_id!r} is "
                f"{eip.status if eip else 'missing'}"
            )
            assert eip.private_ip_address == spec.ip, f"L1: pod {name}'s EIP is bound elsewhere: {eip}"
            status = body.get("status") or {}
            assert status.get("eipAddress") == eip.ip_address, (
                f"L1: PodEIP {name} does not show {eip.ip_address}"
            )

    @invariant()
    def lifecycles_within_budget(self) -> None:
        """I7: an undisturbed Auto/Follow lifecycle that ended."""
        world = self.bed.world
        live = {body["metadata"]["uid"] for body in world.podeips.values()}
        calls = self.bed.engine.calls
        for uid, life in list(self.lifecycles.items()):
            if uid in live:
                continue
            del self.lifecycles[uid]
            if life.disturbed or not life.follow_auto or uid in self.tampered_uids:
                continue  # (a PodEIP someone else wrote: adopted, or forgotten for the pod's own)
            eips = {
                call.allocation_id
                for call in calls
                if call.action == "AllocateEipAddress" and uid in call.params.values()
            }
            used = [call for call in calls[life.first_call :] if self._names(call, uid, life.pod_ip, eips)]
            if not all(call.ok for call in used):
                continue  # a fault hit it after all
            mutations = [call.action for call in used if call.action in MUTATIONS]
            assert len(mutations) <= LIFECYCLE_MUTATIONS, f"I7: mutations of one lifecycle: {mutations}"
            assert len(used) <= LIFECYCLE_BUDGET, (
                f"I7: {len(used)} cloud calls for one Auto/Follow lifecycle: {[u.action for u in used]}"
            )
