"""We test these aspects: wire shapes of EIPs and ENIs, query re-nesting, and fault plans.

An EIP survives ``eip_to_map`` → ``eip_from_map`` unchanged; wrapped lists may be missing;
flat ``Tag.N.*`` and ``ResourceId.N`` come back in index order; fault specs parse and rules
hit the right calls (next n, every Nth, forever).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from podeip.cloud.alibaba.openapi import wire
from podeip.cloud.models import Eip, EipStatus, Eni
from podeip.simulator.faults import Fault, FaultPlan


def test_an_eip_round_trips_through_the_wire_shape() -> None:
    eip = Eip(
        allocation_id="eip-1",
        ip_address="203.0.113.9",
        status=EipStatus.IN_USE,
        instance_id="eni-1",
        instance_type="NetworkInterface",
        private_ip_address="198.51.100.7",
        bandwidth=5,
        internet_charge_type="PayByTraffic",
        instance_charge_type="PostPaid",
        isp="BGP",
        resource_group_id="rg-1",
        bandwidth_package_id="cbwp-1",
        name="n",
        description="d",
        region_id="cn-hangzhou",
        vpc_id="vpc-1",
        mode="NAT",
        tags={"a": "1", "b": ""},
        allocation_time=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        deletion_protection=True,
        locked=True,
        security_protection_types=("AntiDDoS_Enhanced",),
    )
    assert wire.eip_from_map(wire.eip_to_map(eip)) == eip


def test_missing_wrappers_read_as_empty() -> None:
    eip = wire.eip_from_map({"AllocationId": "eip-1", "Status": "Available"})
    assert (eip.tags, eip.bandwidth, eip.allocation_time, eip.locked) == ({}, None, None, False)
    assert wire.eips_from_answer({"TotalCount": 0}) == ([], 0)
    assert wire.enis_from_answer({}) == []


def test_an_eni_round_trips_and_shows_associated_public_ips() -> None:
    eni = Eni(eni_id="eni-1", vpc_id="vpc-1", primary_ip="10.0.0.1", private_ips=("10.0.0.2", "10.0.0.3"))
    data = wire.eni_to_map(eni, public_ips={"10.0.0.3": ("203.0.113.1", "eip-1")})
    assert wire.eni_from_map(data) == eni.model_copy(update={"status": "InUse"})
    sets = data["PrivateIpSets"]["PrivateIpSet"]
    assert sets[0]["Primary"] is True and sets[2]["AssociatedPublicIp"]["AllocationId"] == "eip-1"


def test_flat_lists_and_items_come_back_in_index_order() -> None:
    flat = {
        "ResourceId.10": "c",
        "ResourceId.2": "b",
        "ResourceId.1": "a",
        "Tag.2.Key": "y",
        "Tag.1.Key": "x",
        "Tag.1.Value": "",
        "Tag.2.Value": "2",
        "Other": "z",
    }
    assert wire.flat_list(flat, "ResourceId") == ["a", "b", "c"]
    assert wire.flat_items(flat, "Tag") == [{"Key": "x", "Value": ""}, {"Key": "y", "Value": "2"}]


def test_flatten_numbers_booleans_and_drops_none() -> None:
    assert wire.flatten({"A": 5, "B": True, "C": None, "D": [{"K": "v"}], "E": ["x"]}) == {
        "A": "5",
        "B": "True",
        "D.1.K": "v",
        "E.1": "x",
    }


def test_fault_specs_parse() -> None:
    assert Fault.parse("AllocateEipAddress:InternalError:times=2") == Fault(
        action="AllocateEipAddress", code="InternalError", times=2
    )
    dropped = Fault.parse("AssociateEipAddress:drop")
    assert dropped.code is None and dropped.commit
    every = Fault.parse("*:Throttling.User:every=3:times=-1:latency=0.5")
    assert (every.every, every.times, every.latency) == (3, -1, 0.5)
    with pytest.raises(ValueError):
        Fault.parse("X:Y:bogus=1")


def test_fault_rules_hit_the_next_n_or_every_nth_call() -> None:
    plan = FaultPlan()
    plan.add(Fault(action="ReleaseEipAddress", code="InternalError", times=2))
    plan.add(Fault(action="DescribeEipAddresses", code="Throttling.User", every=3, times=-1))
    releases = [plan.take("ReleaseEipAddress") is not None for _ in range(3)]
    describes = [plan.take("DescribeEipAddresses") is not None for _ in range(6)]
    assert releases == [True, True, False]
    assert describes == [False, False, True, False, False, True]
    assert plan.take("AllocateEipAddress") is None
