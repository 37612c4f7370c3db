"""We test these aspects of crash safety (docs/reliability.md R1):

- the operator killed right after AllocateEipAddress succeeded, before it recorded the
  allocation ID, finds that EIP by its tags after a restart and allocates no second one;
- the same holds for a crash right after AssociateEipAddress, before the status was written.
"""

from __future__ import annotations

import pytest

from podeip import constants as c
from podeip.reconcile import steps
from podeip.simulator.server import RunningSimulator
from testbed.fixtures import Kubectl

from .conftest import OperatorProcess, apply, leak_audit, ours, pod_manifest, podeip, wait_for_address


@pytest.mark.parametrize("point", [steps.AFTER_ALLOCATE_BEFORE_RECORD, steps.AFTER_ASSOCIATE_BEFORE_STATUS])
def test_crash_mid_allocation_then_restart_leaves_exactly_one_eip(
    point: str, operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    operator.stop()
    operator.start(PODEIP_CRASH_POINTS=point)
    apply(kubectl, namespace, pod_manifest("fragile", {c.PREFIX_K8S + "pod-with-eip": "true"}))
    assert operator.wait_exit(timeout=90) == 70, operator.tail()
    operator.start()
    address = wait_for_address(kubectl, namespace, "fragile")
    uid = podeip(kubectl, namespace, "fragile")["metadata"]["uid"]  # type: ignore[index]
    mine = [e for e in ours(cloud.engine) if e.tags.get(c.TAG_PODEIP_UID) == uid]
    assert [e.ip_address for e in mine] == [address]
    allocations = [
        call
        for call in cloud.engine.call_log(action="AllocateEipAddress")
        if call.committed and call.allocation_id == mine[0].allocation_id
    ]
    assert len({call.client_token for call in allocations}) == 1
    kubectl("-n", namespace, "delete", "pod", "fragile")
    leak_audit(cloud.engine, kubectl, namespace)
