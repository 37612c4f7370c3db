"""We test these aspects of how the operator meets cloud failures, through the official SDK:

- quota exceeded: the pod over the quota gets a QuotaExceeded Event and a False gate with that
  reason, nothing else breaks, and it gets its EIP once another EIP is freed;
- throttling beyond the retry budget: a CloudThrottled Event, then the EIP once the cloud
  answers again; no second EIP;
- an Allocate whose answer is lost after the cloud made the EIP: the retry with the same
  ClientToken returns that EIP, and exactly one exists;
- every test ends with a leak audit.
"""

from __future__ import annotations

from podeip import constants as c
from podeip.simulator.faults import Fault
from podeip.simulator.server import RunningSimulator
from testbed.fixtures import Kubectl, wait_for

from .conftest import (
    OperatorProcess,
    apply,
    eip_address_of,
    events,
    leak_audit,
    ours,
    pod,
    pod_manifest,
    podeip,
    wait_for_address,
)

AUTO = {c.PREFIX_K8S + "pod-with-eip": "true"}


def test_quota_exceeded_is_reported_and_the_pod_gets_its_eip_when_one_is_freed(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    engine = cloud.engine
    quota = engine.config.quota
    engine.with_config(quota=len(engine.eips()) + 1)
    try:
        apply(kubectl, namespace, pod_manifest("first", AUTO))
        wait_for_address(kubectl, namespace, "first")
        apply(kubectl, namespace, pod_manifest("second", AUTO))
        reported = wait_for(
            lambda: events(kubectl, namespace, reason=c.EV_QUOTA_EXCEEDED), what="QuotaExceeded Event"
        )
        assert any(e["involvedObject"]["name"] == "second" for e in reported)  # type: ignore[union-attr]

        def gate_reason() -> str | None:
            body = pod(kubectl, namespace, "second") or {}
            gate = {x["type"]: x for x in body.get("status", {}).get("conditions", [])}.get(c.READINESS_GATE)
            return gate["reason"] if gate and gate["status"] == "False" else None

        assert wait_for(gate_reason, what="gate False") == c.EV_QUOTA_EXCEEDED
        kubectl("-n", namespace, "delete", "pod", "first")
        wait_for_address(kubectl, namespace, "second", timeout=150)  # retried within a minute or so
    finally:
        engine.with_config(quota=quota)
    kubectl("-n", namespace, "delete", "pod", "second")
    leak_audit(engine, kubectl, namespace)


def test_throttling_beyond_the_retry_budget_is_reported_and_then_overcome(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    engine = cloud.engine
    engine.faults.add(Fault(action="AllocateEipAddress", code="Throttling.User", times=6))
    apply(kubectl, namespace, pod_manifest("busy", AUTO))
    wait_for(lambda: events(kubectl, namespace, reason=c.EV_THROTTLED), what="CloudThrottled Event")
    address = wait_for_address(kubectl, namespace, "busy", timeout=120)
    uid = podeip(kubectl, namespace, "busy")["metadata"]["uid"]  # type: ignore[index]
    assert [e.ip_address for e in ours(engine) if e.tags.get(c.TAG_PODEIP_UID) == uid] == [address]
    kubectl("-n", namespace, "delete", "pod", "busy")
    leak_audit(engine, kubectl, namespace)


def test_allocate_answer_lost_after_the_eip_was_made_leaves_exactly_one_eip(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    engine = cloud.engine
    engine.faults.add(Fault(action="AllocateEipAddress", code=None, commit=True, times=1))
    apply(kubectl, namespace, pod_manifest("lossy", AUTO))
    address = wait_for_address(kubectl, namespace, "lossy")
    uid = podeip(kubectl, namespace, "lossy")["metadata"]["uid"]  # type: ignore[index]
    mine = [e for e in ours(engine) if e.tags.get(c.TAG_PODEIP_UID) == uid]
    assert [e.ip_address for e in mine] == [address]
    tokens = {
        call.client_token
        for call in engine.call_log(action="AllocateEipAddress")
        if call.allocation_id == mine[0].allocation_id
    }
    assert len(tokens) == 1
    assert eip_address_of(kubectl, namespace, "lossy") == address
    kubectl("-n", namespace, "delete", "pod", "lossy")
    leak_audit(engine, kubectl, namespace)
