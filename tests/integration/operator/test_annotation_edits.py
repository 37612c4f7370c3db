"""We test this README promise with ``podeip run`` on the local control plane: EIP annotations
are read when the PodEIP is created, and editing them on a running pod changes nothing but
yields one Normal Event per change, naming the keys as the pod spells them (an edit to an
invalid value too), never a second Event for the same change over later resync passes; the EIP
keeps its settings and address.
"""

from __future__ import annotations

import time

from podeip import constants as c
from podeip.simulator.server import RunningSimulator
from testbed.fixtures import Kubectl, wait_for

from .conftest import (
    GC_PERIOD_MINUTES,
    OperatorProcess,
    apply,
    events,
    leak_audit,
    ours,
    pod_manifest,
    podeip,
    wait_for_address,
)

K8S = c.PREFIX_K8S
NET = c.PREFIX_NETWORK


def test_editing_eip_annotations_on_a_running_pod_yields_one_event_per_change(
    operator: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    apply(
        kubectl, namespace, pod_manifest("edited", {K8S + "pod-with-eip": "true", K8S + "eip-bandwidth": "5"})
    )
    address = wait_for_address(kubectl, namespace, "edited")
    allocation_id = podeip(kubectl, namespace, "edited")["spec"]["allocationID"]  # type: ignore[index]

    def changed() -> list[dict]:  # type: ignore[type-arg]
        return events(kubectl, namespace, reason=c.EV_ANNOTATIONS_CHANGED)

    kubectl("-n", namespace, "annotate", "pod", "edited", "--overwrite", K8S + "eip-bandwidth=10")
    (first,) = wait_for(changed, what="EipAnnotationsChanged")  # type: ignore[misc]
    assert first["type"] == "Normal" and first["message"].startswith(K8S + "eip-bandwidth differ")
    kubectl("-n", namespace, "annotate", "pod", "edited", NET + "eip-name=renamed")
    wait_for(lambda: len(changed()) == 2, what="a second Event for the second change")
    second = next(e for e in changed() if e["metadata"]["name"] != first["metadata"]["name"])
    assert second["message"].startswith(f"{K8S}eip-bandwidth, {NET}eip-name differ")
    kubectl(
        "-n",
        namespace,
        "annotate",
        "pod",
        "edited",
        "--overwrite",
        NET + "eip-name=renamed",
        K8S + "eip-isp=NoSuchLine",
    )
    wait_for(lambda: len(changed()) == 3, what="a third Event for an invalid edit")
    assert any(e["message"].startswith(K8S + "eip-isp differ") for e in changed())
    time.sleep(3 * GC_PERIOD_MINUTES * 60)  # resync passes: the same change is not told again
    assert sorted(e.get("count", 1) for e in changed()) == [1, 1, 1]

    eip = next(e for e in cloud.engine.eips() if e.allocation_id == allocation_id)
    assert (eip.ip_address, eip.bandwidth, eip.name) == (address, 5, "")
    assert [e.allocation_id for e in ours(cloud.engine) if e.tags.get(c.TAG_NAMESPACE) == namespace] == [
        allocation_id
    ]
    kubectl("-n", namespace, "delete", "pod", "edited")
    leak_audit(cloud.engine, kubectl, namespace)
