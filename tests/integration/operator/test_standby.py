"""We test these aspects of one active instance (issue 10, finding 4) with two ``podeip run``
subprocesses sharing the leader Lease, on the local control plane and the simulated cloud:

- a standby never pauses the leader: with the standby running, new pods keep getting their
  EIPs from the leader, and the standby makes no cloud call and no Kubernetes write at all
  (but to the Lease), and neither logs kopf's "Pausing";
- after SIGKILL of the leader, the standby takes over (with the default Lease timings) and
  serves the pods created meanwhile; the takeover time is measured and printed;
- a restarted process with the identity of the holder (the same pod's container) takes the
  Lease back at once, without waiting for it to expire.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podeip import constants as c
from podeip.k8s.leadership import LEASE_NAME, LeaseTimings, parse_micro_time
from podeip.simulator.server import RunningSimulator
from testbed.cluster import ControlPlane, free_port
from testbed.fixtures import Kubectl, get_json, wait_for

from .conftest import OperatorProcess, apply, leak_audit, operator_environment, pod_manifest, wait_for_address

WITH_EIP = {c.PREFIX_K8S + "pod-with-eip": "true"}


@pytest.fixture
def instances(
    control_plane: ControlPlane,
    podeip_crd: str,
    cloud: RunningSimulator,
    namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, OperatorProcess]]:
    """Two instances, not started, electing in the test's namespace (default Lease timings)."""
    handles = {}
    for name in ("alpha", "beta"):
        port = free_port()
        env = operator_environment(control_plane.kubeconfig, cloud, port)
        env.update(PODEIP_STANDALONE="false", PODEIP_NAMESPACE=namespace, PODEIP_LEADER__IDENTITY=name)
        log = tmp_path_factory.mktemp(name) / "operator.log"
        handles[name] = OperatorProcess(env=env, log_path=log, metrics_port=port)
    yield handles
    for handle in handles.values():
        handle.stop()


def leads(handle: OperatorProcess) -> bool:
    return handle.sample(c.METRIC_LEADER) == 1.0


def cloud_calls(handle: OperatorProcess) -> list[str]:
    return [line for line in handle.metrics().splitlines() if line.startswith(c.METRIC_CLOUD_CALLS + "{")]


def lease_spec(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    spec: dict[str, Any] = get_json(kubectl, "-n", namespace, "lease", LEASE_NAME)["spec"]
    return spec


def kube_writes(handle: OperatorProcess) -> list[str]:
    """The instance's own Kubernetes writes other than to the leader Lease."""
    writes = ("create", "update", "patch", "delete")
    return [
        line
        for line in handle.metrics().splitlines()
        if line.startswith(c.METRIC_KUBE_REQUESTS + "{")
        and any(f'verb="{verb}"' in line for verb in writes)
        and 'resource="leases"' not in line
    ]


def holder(kubectl: Kubectl, namespace: str) -> str:
    return str(lease_spec(kubectl, namespace)["holderIdentity"])


def renew_time(kubectl: Kubectl, namespace: str) -> datetime:
    moment = parse_micro_time(lease_spec(kubectl, namespace)["renewTime"])
    assert moment is not None
    return moment


def test_a_standby_never_pauses_the_leader_and_takes_over_after_a_kill(
    instances: dict[str, OperatorProcess], cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    alpha, beta = instances["alpha"], instances["beta"]
    alpha.start()
    wait_for(lambda: leads(alpha), timeout=30, what="alpha leads")
    beta.start()
    apply(kubectl, namespace, pod_manifest("before", WITH_EIP))
    wait_for_address(kubectl, namespace, "before")
    # Standby running for longer than a Lease duration: the leader still serves new pods.
    time.sleep(LeaseTimings().duration + 1)
    apply(kubectl, namespace, pod_manifest("beside", WITH_EIP))
    wait_for_address(kubectl, namespace, "beside")
    assert leads(alpha) and not leads(beta)
    assert holder(kubectl, namespace) == "alpha"
    assert cloud_calls(beta) == [], "the standby called the cloud"
    assert kube_writes(beta) == [], "the standby wrote to Kubernetes"
    assert kube_writes(alpha) != []  # the counter does count the leader's writes
    for handle in (alpha, beta):
        assert "Pausing" not in handle.log_path.read_text(), handle.tail()

    alpha.kill()
    killed = time.monotonic()
    last_renewal = renew_time(kubectl, namespace)
    apply(kubectl, namespace, pod_manifest("after", WITH_EIP))
    timings = LeaseTimings()
    # Correctness bound, generous: the Lease expires and the standby looks again.
    wait_for(lambda: leads(beta), timeout=3 * (timings.duration + timings.retry_every), interval=0.1)
    takeover = time.monotonic() - killed
    print(f"\ntakeover after SIGKILL of the leader: {takeover:.1f} s")
    assert datetime.now(UTC) - last_renewal >= timedelta(seconds=timings.duration), (
        "the standby took the Lease before it expired"
    )
    assert holder(kubectl, namespace) == "beta"
    wait_for_address(kubectl, namespace, "after")

    # The restarted container of the holder's pod (same identity) takes the Lease back at once.
    beta.kill()
    killed = time.monotonic()
    beta.start()
    wait_for(lambda: leads(beta), timeout=60, interval=0.1, what="beta leads again")
    print(f"restarted holder leads again after {time.monotonic() - killed:.1f} s")
    apply(kubectl, namespace, pod_manifest("restarted", WITH_EIP))
    wait_for_address(kubectl, namespace, "restarted")

    kubectl("-n", namespace, "delete", "pod", "--all", "--wait=false")
    leak_audit(cloud.engine, kubectl, namespace)
