"""We test this aspect of the operator at rest (issue 12, "Done when"), with ``podeip run`` on the
local control plane and the simulated cloud, electing a leader (not standalone):

- with a few PodEIPs bound (Auto, Follow and TTL) and nothing changing, over several garbage
  collection periods (each of which lists our EIPs in the cloud), the operator makes no
  Kubernetes request at all but its leader-Lease renewals: a pass reads the watch-fed view,
  the collector enqueues nothing that agrees with the cloud, and nothing is rewritten.

The requests are counted by the operator itself (``podeip_kube_api_requests_total``, every
attempt, by verb and resource). The GC periods are proven by the cloud listing's own counter,
not by a sleep: the window ends once three more listings have been made.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from podeip import constants as c
from podeip.simulator.server import RunningSimulator
from testbed.cluster import ControlPlane, free_port
from testbed.fixtures import Kubectl, wait_for

from .conftest import (
    GC_PERIOD_MINUTES,
    OperatorProcess,
    apply,
    leak_audit,
    operator_environment,
    pod_manifest,
    wait_for_address,
)

FOLLOW = {c.PREFIX_K8S + c.POD_WITH_EIP: "true"}
TTL = FOLLOW | {c.PREFIX_K8S + "pod-eip-release-strategy": "10m"}
PODS = {"rest-a": FOLLOW, "rest-b": FOLLOW, "rest-c": FOLLOW, "rest-ttl": TTL}
SAMPLE = re.compile(r"^(\w+)\{(.*)\} ([0-9.e+]+)$")


@pytest.fixture
def leader(
    control_plane: ControlPlane,
    podeip_crd: str,
    cloud: RunningSimulator,
    namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    port = free_port()
    env = operator_environment(control_plane.kubeconfig, cloud, port)
    env.update(PODEIP_STANDALONE="false", PODEIP_NAMESPACE=namespace, PODEIP_LEADER__IDENTITY="rest")
    handle = OperatorProcess(
        env=env, log_path=tmp_path_factory.mktemp("rest") / "operator.log", metrics_port=port
    )
    handle.start()
    yield handle
    handle.stop()


def counters(handle: OperatorProcess, name: str) -> dict[str, float]:
    """Every sample of a counter, by its label set."""
    found: dict[str, float] = {}
    for line in handle.metrics().splitlines():
        match = SAMPLE.match(line)
        if match and match.group(1) == name:
            found[match.group(2)] = float(match.group(3))
    return found


def kube_requests(handle: OperatorProcess) -> dict[str, float]:
    """The Kubernetes requests other than to Leases (the leader Lease is the only one here:
    no Static EIP, so no claim Lease)."""
    return {
        labels: value
        for labels, value in counters(handle, c.METRIC_KUBE_REQUESTS).items()
        if 'resource="leases"' not in labels
    }


def listings(handle: OperatorProcess) -> float:
    return sum(
        value
        for labels, value in counters(handle, c.METRIC_CLOUD_CALLS).items()
        if 'operation="DescribeEipAddresses"' in labels
    )


def growth(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {
        labels: after[labels] - before.get(labels, 0.0)
        for labels in after
        if after[labels] != before.get(labels)
    }


def test_at_rest_the_operator_makes_no_kubernetes_request_but_its_lease(
    leader: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    wait_for(lambda: leader.sample(c.METRIC_LEADER) == 1.0, timeout=60, what="the instance leads")
    apply(kubectl, namespace, *(pod_manifest(name, annotations) for name, annotations in PODS.items()))
    for name in PODS:
        wait_for_address(kubectl, namespace, name)
    period = GC_PERIOD_MINUTES * 60
    spent = kube_requests(leader)
    print(f"\nnon-Lease Kubernetes requests until {len(PODS)} pods were bound: {sum(spent.values()):.0f}")
    # Quiet first: the passes that follow the last writes (their watch events) are over once one
    # whole GC period went by without a request.
    last = {"requests": kube_requests(leader), "listings": listings(leader)}
    grew: list[dict[str, float]] = []

    def quiet() -> bool:
        now = {"requests": kube_requests(leader), "listings": listings(leader)}
        if now["requests"] != last["requests"]:
            grew[:] = [growth(last["requests"], now["requests"])]
            last.update(now)
            return False
        return now["listings"] >= last["listings"] + 1

    try:
        wait_for(quiet, timeout=60, interval=period / 2, what="a GC period without a request")
    except AssertionError as error:
        raise AssertionError(f"{error}; the last requests: {grew}") from None
    before, start = kube_requests(leader), listings(leader)
    wait_for(lambda: listings(leader) >= start + 3, timeout=30 * period, what="three more GC periods")
    after = kube_requests(leader)
    grown = growth(before, after)
    print(
        f"\nnon-Lease Kubernetes requests in {listings(leader) - start:.0f} GC periods at rest: {grown or 0}"
    )
    assert grown == {}, f"requests at rest (verb, resource, code → count): {grown}"
    assert counters(leader, c.METRIC_KUBE_REQUESTS), "the counter counts nothing"

    kubectl("-n", namespace, "delete", "pod", "--all", "--wait=false")
    leak_audit(cloud.engine, kubectl, namespace)
