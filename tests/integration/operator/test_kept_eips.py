"""We test these aspects of kept EIPs on the local control plane, with the operator as
``podeip run`` (restarted with the settings each test needs) and the simulated cloud behind the
official SDK:

- expiry (``keptEipExpiry``, here 8s through the test-only minimum): a kept Never EIP gets an
  ``EipExpiring`` Warning on its PodEIP, then ends as Follow would (released) no earlier than
  the recorded pod-gone moment plus the expiry;
- cascade reclaim on: deleting a StatefulSet ends its kept PodEIPs (Auto released, a Static
  list entry unbound and left in the account) with a ``WorkloadDeleted`` Event, while another
  StatefulSet's kept PodEIP stays;
- cascade reclaim off (the default): the same deletion keeps them;
- every test ends with a leak audit of the simulated cloud.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.simulator.server import RunningSimulator
from testbed.fixtures import Kubectl, get_json, wait_for

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
    workload,
)

NET = c.PREFIX_NETWORK
NEVER = {NET + "pod-with-eip": "true", NET + "pod-eip-release-strategy": "Never"}
EXPIRY = timedelta(seconds=8)


@pytest.fixture
def restart(operator: OperatorProcess) -> Iterator[object]:
    """Restart the module's operator with extra settings; back to the defaults afterwards."""

    def with_settings(**env: str) -> None:
        operator.stop()
        operator.start(**env)

    yield with_settings
    with_settings()


def kept(kubectl: Kubectl, namespace: str, name: str) -> bool:
    body = podeip(kubectl, namespace, name)
    return bool(body and body.get("status", {}).get("status") == "Available")


def test_the_expiry_ends_a_kept_never_eip_after_a_warning(
    operator: OperatorProcess, restart: object, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    restart(  # type: ignore[operator]
        PODEIP_KEPT_EIP_EXPIRY="8s", PODEIP_TESTING_KEPT_EIP_EXPIRY_MINIMUM="1s"
    )
    apply(kubectl, namespace, pod_manifest("keeper", NEVER))
    wait_for_address(kubectl, namespace, "keeper")
    allocation_id = podeip(kubectl, namespace, "keeper")["spec"]["allocationID"]  # type: ignore[index]
    kubectl("-n", namespace, "delete", "pod", "keeper")
    gone_since = wait_for(
        lambda: (
            (podeip(kubectl, namespace, "keeper") or {})
            .get("metadata", {})
            .get("annotations", {})
            .get(c.ANN_POD_GONE_SINCE)
        ),
        what="pod-gone moment recorded",
    )
    warning = wait_for(lambda: events(kubectl, namespace, reason=c.EV_EIP_EXPIRING), what="EipExpiring")
    assert warning[0]["type"] == "Warning" and warning[0]["involvedObject"]["kind"] == "PodEIP"  # type: ignore[index]
    assert allocation_id in warning[0]["message"] and "released" in warning[0]["message"]  # type: ignore[index]
    wait_for(lambda: podeip(kubectl, namespace, "keeper") is None, timeout=60, what="PodEIP ended")
    wait_for(lambda: all(e.allocation_id != allocation_id for e in cloud.engine.eips()), what="EIP released")
    release = next(
        call
        for call in cloud.engine.call_log()
        if call.action == "ReleaseEipAddress" and call.params.get("AllocationId") == allocation_id
    )
    assert release.started >= (datetime.fromisoformat(str(gone_since)) + EXPIRY).timestamp()
    assert events(kubectl, namespace, reason=c.EV_EIP_EXPIRED)
    leak_audit(cloud.engine, kubectl, namespace)


def test_cascade_on_ends_a_deleted_statefulsets_kept_eips_and_only_those(
    operator: OperatorProcess, restart: object, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    restart(PODEIP_CASCADE_RECLAIM="true")  # type: ignore[operator]
    entry = cloud.engine.seed_eip(status=EipStatus.AVAILABLE)
    static = {
        NET + c.POD_EIP_INSTANCE_ID_LIST: entry.allocation_id,
        NET + "pod-eip-release-strategy": "Never",
    }
    apply(
        kubectl,
        namespace,
        workload("StatefulSet", "game", 2, NEVER),
        workload("StatefulSet", "pinned", 1, static),
        workload("StatefulSet", "other", 1, NEVER),
    )
    for name in ("game-0", "game-1", "pinned-0", "other-0"):
        wait_for_address(kubectl, namespace, name)
    assert podeip(kubectl, namespace, "game-0")["metadata"]["annotations"][c.ANN_OWNER_UID]  # type: ignore[index]
    game = {podeip(kubectl, namespace, n)["spec"]["allocationID"] for n in ("game-0", "game-1")}  # type: ignore[index]
    kubectl("-n", namespace, "scale", "statefulset", "other", "--replicas=0")
    wait_for(lambda: kept(kubectl, namespace, "other-0"), what="other-0 kept")
    kubectl("-n", namespace, "delete", "statefulset", "game", "pinned")
    for name in ("game-0", "game-1", "pinned-0"):
        wait_for(lambda n=name: podeip(kubectl, namespace, n) is None, timeout=60, what=f"{name} ended")  # type: ignore[misc]
    wait_for(
        lambda: not [e for e in ours(cloud.engine) if e.allocation_id in game], what="game EIPs released"
    )
    after = {e.allocation_id: e for e in cloud.engine.eips()}
    assert after[entry.allocation_id].status is EipStatus.AVAILABLE  # unbound, still the user's
    deleted = events(kubectl, namespace, reason=c.EV_OWNER_DELETED)
    assert {e["involvedObject"]["name"] for e in deleted} == {"game-0", "game-1", "pinned-0"}
    time.sleep(2 * GC_PERIOD_MINUTES * 60)
    assert kept(kubectl, namespace, "other-0"), "a StatefulSet that still exists keeps its EIP"
    kubectl("-n", namespace, "delete", "statefulset", "other")
    leak_audit(cloud.engine, kubectl, namespace, static_ids=(entry.allocation_id,))


def test_cascade_off_keeps_a_deleted_statefulsets_eips(
    operator: OperatorProcess, restart: object, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    restart()  # type: ignore[operator]
    apply(kubectl, namespace, workload("StatefulSet", "game", 2, NEVER))
    for name in ("game-0", "game-1"):
        wait_for_address(kubectl, namespace, name)
    kubectl("-n", namespace, "delete", "statefulset", "game")
    wait_for(lambda: kept(kubectl, namespace, "game-0") and kept(kubectl, namespace, "game-1"), what="kept")
    time.sleep(3 * GC_PERIOD_MINUTES * 60)
    assert len(get_json(kubectl, "-n", namespace, "podeips")["items"]) == 2
    assert not events(kubectl, namespace, reason=c.EV_OWNER_DELETED)
    leak_audit(cloud.engine, kubectl, namespace)
