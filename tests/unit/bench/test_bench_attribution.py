"""We test these aspects of the benchmark's accounting (``hack/bench/measure.py``): Kubernetes
requests are summed per verb and resource across HTTP codes, differences leave out what did not
move, the leader Lease is split off, and reads are told from writes; a cloud call is charged to
the pods it served, 1/k each when it served k of them (a DescribeEipAddresses with k
AllocationIds, a DescribeNetworkInterfaces with k PrivateIpAddress.N; items of pods outside the
scenario are theirs, not charged), found by allocation ID, PodEIP UID, pod IP or pod-name tag,
and a call naming none of them is counted apart; the floors
queue the N-th pod behind the bucket's burst and take Allocate and DNI as parallel."""

from __future__ import annotations

import pytest

from bench import measure
from podeip import constants as c
from podeip.simulator.state import CallRecord

METRICS = "\n".join(
    [
        'podeip_kube_api_requests_total{code="200",resource="pods",verb="get"} 7.0',
        'podeip_kube_api_requests_total{code="404",resource="pods",verb="get"} 1.0',
        'podeip_kube_api_requests_total{code="200",resource="podeips/status",verb="patch"} 3.0',
        'podeip_kube_api_requests_total{code="200",resource="leases",verb="get"} 12.0',
        'podeip_kube_api_requests_total{code="200",resource="leases",verb="update"} 12.0',
        'podeip_kube_api_requests_total{code="200",resource="podeips",verb="list"} 2.0',
        'podeip_cloud_api_calls_total{operation="x"} 9.0',
    ]
)


def call(action: str, allocation_id: str = "", **params: str) -> CallRecord:
    return CallRecord(
        action=action,
        params=dict(params),
        started=0.0,
        ended=0.1,
        latency=0.1,
        request_id="r",
        result="OK",
        allocation_id=allocation_id,
    )


def allocate(pod: str, allocation_id: str, uid: str, namespace: str = "ns") -> CallRecord:
    tags = {c.TAG_NAMESPACE: namespace, c.TAG_POD_NAME: pod, c.TAG_PODEIP_UID: uid, c.TAG_CLUSTER_ID: "c-1"}
    params: dict[str, str] = {}
    for i, (key, value) in enumerate(tags.items(), 1):
        params[f"Tag.{i}.Key"], params[f"Tag.{i}.Value"] = key, value
    return call("AllocateEipAddress", allocation_id, **params)


def test_kube_counts_sum_codes_per_verb_and_resource() -> None:
    assert measure.kube_counts(METRICS) == {
        "get pods": 8.0,
        "patch podeips/status": 3.0,
        "get leases": 12.0,
        "update leases": 12.0,
        "list podeips": 2.0,
    }


def test_diff_lease_and_reads() -> None:
    before = measure.kube_counts(METRICS)
    after = dict(before, **{"get pods": 18.0, "update leases": 24.0, "create events": 4.0})
    diff = measure.counts_diff(after, before, per=2)
    assert diff == {"get pods": 5.0, "update leases": 6.0, "create events": 2.0}
    work, lease = measure.split_lease(diff)
    assert work == {"get pods": 5.0, "create events": 2.0}
    assert lease == {"update leases": 6.0}
    assert measure.reads_writes({"get pods": 5.0, "list podeips": 1.0, "patch pods/status": 2.0}) == (
        6.0,
        2.0,
    )
    assert measure.by_resource({"get pods": 5.0, "patch pods": 2.0, "patch pods/status": 1.0}) == {
        "pods": 7.0,
        "pods/status": 1.0,
    }


def test_call_keys_split_comma_lists_and_numbered_params() -> None:
    batched = call("DescribeEipAddresses", AllocationId="eip-a, eip-b,eip-c", RegionId="r")
    assert measure.call_keys(batched) == {"eip-a", "eip-b", "eip-c", "r"}
    dni = call(
        "DescribeNetworkInterfaces", **{"PrivateIpAddress.1": "10.0.0.1", "PrivateIpAddress.2": "10.0.0.2"}
    )
    assert {"10.0.0.1", "10.0.0.2"} <= measure.call_keys(dni)
    assert "eip-x" in measure.call_keys(call("ReleaseEipAddress", "eip-x"))


def test_batched_calls_count_one_kth_per_pod_served() -> None:
    calls = [
        allocate("p1", "eip-1", "uid-1"),
        allocate("p2", "eip-2", "uid-2"),
        allocate("p3", "eip-3", "uid-3"),
        allocate("other", "eip-9", "uid-9", namespace="elsewhere"),
        call("DescribeEipAddresses", AllocationId="eip-1,eip-2,eip-3"),
        call(
            "DescribeNetworkInterfaces",
            **{"PrivateIpAddress.1": "10.0.0.1", "PrivateIpAddress.2": "10.0.0.2"},
        ),
        call("AssociateEipAddress", "eip-1", AllocationId="eip-1", InstanceId="eni-shared"),
        call("DescribeEipAddresses", AllocationId="eip-9"),  # another namespace's pod: not ours
        call("DescribeEipAddresses", AllocationId="eip-2,eip-9"),  # half ours, half another pod's
        call("DescribeEipAddresses", **{"Tag.1.Key": c.TAG_CLUSTER_ID, "Tag.1.Value": "c-1"}),  # the listing
    ]
    owner = measure.owners(calls, "ns", {"10.0.0.1": "p1", "10.0.0.2": "p2"})
    assert owner["eip-1"] == "p1" and owner["uid-3"] == "p3" and "eip-9" not in owner
    split = measure.attribute(calls, owner, "ns")
    assert split.per_pod["p1"]["DescribeEipAddresses"] == pytest.approx(1 / 3)
    assert split.per_pod["p1"]["DescribeNetworkInterfaces"] == pytest.approx(1 / 2)
    assert split.per_pod["p3"] == {"AllocateEipAddress": 1.0, "DescribeEipAddresses": pytest.approx(1 / 3)}
    assert split.per_pod["p2"]["DescribeEipAddresses"] == pytest.approx(1 / 3 + 1 / 2)
    assert split.shared == {"AllocateEipAddress": 1, "DescribeEipAddresses": 2}
    assert split.batched == {"DescribeEipAddresses": (2, 5), "DescribeNetworkInterfaces": (1, 2)}
    per_pod = split.by_action(3)
    # Nothing hidden, nothing counted twice: a call of ours sums to one call in all, a call half
    # ours to a half.
    assert per_pod["DescribeEipAddresses"] * 3 == pytest.approx(1.0 + 1 / 2)
    assert per_pod["DescribeNetworkInterfaces"] * 3 == pytest.approx(1.0)
    assert per_pod["AllocateEipAddress"] * 3 == pytest.approx(3.0)


def test_a_failed_allocate_is_charged_by_its_pod_name_tag() -> None:
    failed = allocate("p7", "", "uid-7")
    assert measure.pods_served(failed, {}, "ns") == {"p7"}
    assert measure.pods_served(failed, {}, "other-namespace") == set()


def test_floors() -> None:
    parts = {"AllocateEipAddress": 0.2, "DescribeNetworkInterfaces": 0.1, "AssociateEipAddress": 0.15}
    assert measure.one_pod_latency(parts, 2.0) == pytest.approx(2.35)
    # 500 pods after a burst of 10 at 110/min: the 490 others wait 490/110 min.
    assert measure.queued_floor(500, burst=10, per_minute=110, l1=2.3) == pytest.approx(490 / 110 * 60 + 2.3)
    assert measure.queued_floor(250, burst=12, per_minute=120, l1=2.3) == pytest.approx(238 / 2 + 2.3)
    assert measure.queued_floor(5, burst=10, per_minute=110, l1=2.3) == 2.3
