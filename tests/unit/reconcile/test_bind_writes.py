"""We test these aspects: the Kubernetes requests of one Auto/Follow bind, in order and counted
(issue 13: every request until bound spends the client budget a burst is bound by):

- a first bind whose poll finds the EIP InUse makes 8 requests: the node read, the PodEIP's
  creation, the allocation ID and the binding recorded before the calls that need them (R1),
  the pod read again right before Associate (R10), then one status write (carrying
  ``podLastSeen``), one pod write (gate True with the address annotations) and one Event on the
  pod that names the allocation and the association;
- nothing shows a state before bound (no False gate, no ``Associating`` or ``WaitingForPodIP``
  condition), unless the EIP stays associating, or the pod without its IP, longer than
  ``QUIET``: then that is shown once;
- a PodEIP and pod that show a binding (bound before, unbound out of band since) show
  ``Associating`` while associating again: never a stale True gate;
- a pass that allocates and cannot associate sends ``EipAllocated`` itself (never lost); one
  whose Associate waits for its rate-limit slot does not: the bound Event names both;
- ``podLastSeen`` missing on a bound PodEIP is written by a settled pass alone;
- the end of a Follow lifecycle is one Event (``EipReleased``), an unbind that keeps the EIP is
  told (``EipUnassociated``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.reconcile.looks import STEADY
from podeip.reconcile.plan import QUIET
from podeip.reconcile.queue import Hold
from podeip.settings import RateLimit
from podeip.simulator.faults import Fault
from podeip.simulator.provider import SimulatedEipProvider

from .fakes import WatchedReconciler
from .harness import KEY, Bed


def gated(bed: Bed) -> None:
    bed.world.pods[KEY].setdefault("spec", {})["readinessGates"] = [{"conditionType": c.READINESS_GATE}]


def record_requests(bed: Bed) -> list[tuple[str, Any]]:
    """Every Kubernetes request of the operator, in order, as (verb resource, what it carried)."""
    sent: list[tuple[str, Any]] = []

    def wrap(obj: Any, name: str, label: str, what: Any = lambda *a, **k: None) -> None:
        original = getattr(obj, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            sent.append((label, what(*args, **kwargs)))
            return await original(*args, **kwargs)

        setattr(obj, name, call)

    podeips = bed.deps.podeips._inner  # type: ignore[attr-defined]  # under the view's wrapper
    wrap(podeips, "create", "create podeips")
    wrap(podeips, "get", "get podeips")
    wrap(podeips, "patch_status", "patch podeips/status", lambda ns, n, changes, **_: dict(changes))
    wrap(podeips, "patch_metadata_and_spec", "patch podeips", lambda ns, n, patch, **_: dict(patch))
    wrap(bed.world, "get_pod", "get pods")
    wrap(bed.world, "get", "get nodes")
    wrap(bed.world, "show", "patch pods/status", lambda *a, **k: (k["annotations"], k["condition"]))
    wrap(bed.world, "record", "create events", lambda obj, **k: (obj.kind, k["reason"], k["message"]))
    return sent


def verbs(sent: list[tuple[str, Any]]) -> list[str]:
    return [label for label, _ in sent]


def gate_statuses(bed: Bed) -> list[str]:
    return [condition["status"] for condition in bed.world.pod_conditions]


async def test_a_first_bind_makes_eight_requests_in_the_safe_order() -> None:
    bed = Bed()
    bed.eni()
    bed.add_pod()
    gated(bed)
    sent = record_requests(bed)
    await bed.settle()
    assert verbs(sent) == [
        "get nodes",
        "create podeips",
        "patch podeips",  # spec.allocationID, right after Allocate (R1)
        "get pods",  # R10, right before Associate
        "patch podeips",  # the binding, before Associate (R1)
        "patch pods/status",
        "create events",
        "patch podeips/status",
    ]
    assert "allocationID" in sent[2][1]["spec"] and "binding" in str(sent[4][1])
    annotations, condition = sent[5][1]
    assert condition["status"] == "True" and set(annotations) == set(c.ALLOCATED_EIP_ADDRESS_KEYS)
    (kind, reason, message) = sent[6][1]
    podeip = bed.podeip()
    assert podeip is not None and podeip.status is not None
    assert (kind, reason) == ("Pod", c.EV_ASSOCIATED)
    assert f"({podeip.spec.allocation_id}) allocated and associated with pod IP 10.0.0.5" in message
    status = sent[7][1]
    assert status["eipAddress"] == podeip.status.eip_address and "podLastSeen" in status
    assert [x["reason"] for x in status["conditions"]] == [c.EV_BOUND]
    assert gate_statuses(bed) == ["True"]  # no False before: an absent gate is not ready
    # The EIP really is bound where the record says, and the lifecycle still ends clean.
    assert bed.calls("AssociateEipAddress") == 1
    bed.delete_pod()
    await bed.settle()
    assert bed.podeip() is None and bed.calls("ReleaseEipAddress") == 1


async def test_an_eip_associating_for_long_shows_it_once() -> None:
    bed = Bed(transition_delay=20.0)  # far longer than the first poll expects
    bed.eni()
    bed.add_pod()
    gated(bed)
    sent = record_requests(bed)
    await bed.settle(horizon=120)
    shown = [what for label, what in sent if label == "patch podeips/status"]
    assert [[x["reason"] for x in w["conditions"]] for w in shown] == [[c.EV_ASSOCIATING], [c.EV_BOUND]]
    assert "podLastSeen" in shown[0] and "podLastSeen" not in shown[1]  # the first write carries it
    assert gate_statuses(bed) == ["False", "True"]
    assert [x[1] for label, x in sent if label == "create events"] == [c.EV_ASSOCIATED]


def give_ip(bed: Bed, ip: str = "10.0.0.5") -> None:
    status = bed.world.pods[KEY].setdefault("status", {})
    status["podIP"], status["podIPs"] = ip, [{"ip": ip}]


def without_ip() -> tuple[Bed, list[tuple[str, Any]]]:
    """A gated pod on its node, its IP not given yet, and the requests recorded from now on."""
    bed = Bed()
    bed.eni()
    bed.add_pod(pod_ip="")
    gated(bed)
    return bed, record_requests(bed)


async def test_a_pod_ip_that_comes_within_quiet_costs_no_write_before_bound() -> None:
    bed, sent = without_ip()
    requeue = await bed.once()
    assert requeue is not None and 0 < requeue.after <= QUIET and requeue.hold is Hold.NONE
    bed.clock.advance(2.0)  # the IP's event, before the requeue is due
    give_ip(bed)
    await bed.settle()
    assert verbs(sent).count("patch podeips/status") == 1 and verbs(sent).count("patch pods/status") == 1
    assert gate_statuses(bed) == ["True"]
    assert len(sent) == 8  # the first bind's eight (test above), nothing for the wait


async def test_a_pod_without_its_ip_for_long_shows_it_once_then_binds() -> None:
    bed, sent = without_ip()
    await bed.settle()  # quiet, then shown at QUIET; no cloud call meanwhile
    assert bed.engine.call_log() == []
    podeip = bed.podeip()
    assert podeip is not None and podeip.status is not None
    assert [x.reason for x in podeip.status.conditions or ()] == [c.EV_WAITING_FOR_POD_IP]
    assert gate_statuses(bed) == ["False"]
    give_ip(bed)
    await bed.settle()
    shown = [what for label, what in sent if label == "patch podeips/status"]
    assert [x["reason"] for w in shown for x in w.get("conditions", ())] == [
        c.EV_WAITING_FOR_POD_IP,
        c.EV_ASSOCIATING,  # it showed a state: never a stale one while the EIP moves
        c.EV_BOUND,
    ]
    assert gate_statuses(bed) == ["False", "False", "True"]


async def test_a_transition_a_few_polls_long_still_shows_nothing_until_bound() -> None:
    bed = Bed(transition_delay=3.0)  # the first poll (about 1 s) finds it Associating
    bed.eni()
    bed.add_pod()
    gated(bed)
    sent = record_requests(bed)
    await bed.settle(horizon=120)
    assert len(bed.engine.call_log(action="DescribeEipAddresses")) >= 2  # polled more than once
    shown = [what for label, what in sent if label == "patch podeips/status"]
    assert [[x["reason"] for x in w["conditions"]] for w in shown] == [[c.EV_BOUND]]
    assert gate_statuses(bed) == ["True"]


async def test_associating_again_after_an_unbind_out_of_band_never_leaves_a_true_gate() -> None:
    bed = Bed()
    bed.eni()
    bed.add_pod()
    gated(bed)
    await bed.settle()
    podeip = bed.podeip()
    assert podeip is not None and gate_statuses(bed) == ["True"]
    bed.engine.edit_eip(
        podeip.spec.allocation_id, status=EipStatus.AVAILABLE, instance_id="", instance_type=""
    )
    bed.clock.advance(STEADY + 1)
    await bed.settle(horizon=120)
    assert bed.calls("AssociateEipAddress") == 2
    assert gate_statuses(bed) == ["True", "False", "True"]  # Associating shown between the binds
    assert bed.world.pod_conditions[1]["reason"] == c.EV_ASSOCIATING


async def test_an_allocation_whose_associate_fails_gets_its_own_event() -> None:
    bed = Bed()
    bed.eni()
    bed.add_pod()
    gated(bed)
    bed.engine.faults.add(Fault(action="AssociateEipAddress", code="Forbidden.RAM", times=1))
    sent = record_requests(bed)
    await bed.once()
    events = [x for label, x in sent if label == "create events"]
    reasons = [reason for _, reason, _ in events]
    assert c.EV_ALLOCATED in reasons and c.EV_PERMISSION_DENIED in reasons
    podeip = bed.podeip()
    assert podeip is not None
    (allocated,) = [message for _, reason, message in events if reason == c.EV_ALLOCATED]
    assert podeip.spec.allocation_id in allocated
    # The failure's status write carries podLastSeen; the gate says False with the failure.
    (status,) = [what for label, what in sent if label == "patch podeips/status"]
    assert "podLastSeen" in status and gate_statuses(bed) == ["False"]


async def test_podlastseen_missing_on_a_bound_podeip_is_written_once_by_a_settled_pass() -> None:
    bed = Bed()
    bed.eni()
    bed.add_pod()
    await bed.settle()
    stored: Mapping[str, Any] = bed.world.podeips[KEY]
    stored["status"].pop("podLastSeen")
    sent = record_requests(bed)
    await bed.settle()
    assert [what for label, what in sent if label == "patch podeips/status"] == [
        {"podLastSeen": bed.now().strftime("%Y-%m-%dT%H:%M:%SZ")}
    ]
    sent.clear()
    await bed.settle()
    assert sent == []  # at rest: nothing


async def test_an_associate_waiting_for_its_slot_keeps_the_allocation_for_the_bound_event() -> None:
    bed = Bed()
    bed.cloud = SimulatedEipProvider(
        bed.engine,
        rate_limits={"AssociateEipAddress": RateLimit(per_minute=6, burst=1)},
        clock=bed.clock,
        sleep=bed.clock.sleep,
        rng=lambda: 0.5,
    )
    bed.deps = bed._deps()
    bed.reconciler = WatchedReconciler(bed.deps, bed.world)
    first, second = ("ns", "web-0"), ("ns", "web-1")
    bed.eni("10.0.0.5")
    bed.eni("10.0.0.6")
    bed.add_pod(key=first)
    await bed.settle(first)  # spends the Associate burst
    bed.add_pod(key=second, pod_ip="10.0.0.6", uid="pod-uid-2")
    bed.world.events.clear()
    waiting = await bed.once(second)
    assert waiting is not None and waiting.hold is Hold.IN_FLIGHT and waiting.after > 1.0
    assert bed.calls("AllocateEipAddress") == 2 and bed.calls("AssociateEipAddress") == 1
    assert bed.world.events == []  # the allocation is told with the bound Event
    await bed.settle(second, horizon=120)
    assert bed.calls("AssociateEipAddress") == 2
    (event,) = bed.world.events
    assert (
        event.reason == c.EV_ASSOCIATED and "allocated and associated with pod IP 10.0.0.6" in event.message
    )


async def test_the_end_of_a_follow_lifecycle_is_one_event_and_an_unbind_kept_is_told() -> None:
    """A Follow pod gone: its EIP is unbound and released, told once (``EipReleased``); a TTL
    pod gone: its EIP is unbound and kept, told by ``EipUnassociated``."""
    bed = Bed()
    bed.eni()
    bed.add_pod()
    await bed.settle()
    bed.delete_pod()
    await bed.settle()
    assert bed.podeip() is None and bed.calls("ReleaseEipAddress") == 1
    ended = [e.reason for e in bed.world.events if e.reason in (c.EV_UNASSOCIATED, c.EV_RELEASED)]
    assert ended == [c.EV_RELEASED]
    kept = Bed()
    kept.eni()
    kept.add_pod(
        {c.PREFIX_K8S + c.POD_WITH_EIP: "true", c.PREFIX_K8S + c.RELEASE_STRATEGY: "10m"}, owner="StatefulSet"
    )
    await kept.settle()
    kept.delete_pod()
    await kept.settle(horizon=60)
    assert kept.podeip() is not None and kept.calls("UnassociateEipAddress") == 1
    assert kept.calls("ReleaseEipAddress") == 0
    assert [e.reason for e in kept.world.events if e.reason == c.EV_UNASSOCIATED] == [c.EV_UNASSOCIATED]
