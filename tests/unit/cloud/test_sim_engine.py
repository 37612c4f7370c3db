"""We test these aspects: engine behaviour that the provider contract does not show.

Transitions settle on the injected clock only; auto ENIs cover the VPC per /26 and yield to
registered ENIs; the call log records committed mutations per EIP for leak audits, including
commit-then-drop and a tag call on several EIPs; out-of-band edits and deletions; missing or
foreign regions are refused; server-side throttling follows its bucket.
"""

from __future__ import annotations

import pytest

from podeip.cloud import errors
from podeip.cloud.alibaba.openapi import wire
from podeip.cloud.clock import ManualClock
from podeip.cloud.models import EipStatus
from podeip.settings import RateLimit
from podeip.simulator.engine import Engine, EngineConfig
from podeip.simulator.faults import Fault

REGION = {"RegionId": "cn-hangzhou"}


def _engine(**config: object) -> tuple[Engine, ManualClock]:
    clock = ManualClock()
    return Engine(EngineConfig(**config), clock=clock), clock  # type: ignore[arg-type]


def _allocate(engine: Engine, token: str = "") -> str:
    answer = engine.handle("AllocateEipAddress", {**REGION, **({"ClientToken": token} if token else {})})
    return str(answer["AllocationId"])


def test_transitions_settle_only_when_the_clock_has_moved() -> None:
    engine, clock = _engine(transition_delay=5.0)
    allocation_id = _allocate(engine)
    eni = engine.add_eni(primary_ip="198.51.100.2", private_ips=("198.51.100.3",))
    engine.handle(
        "AssociateEipAddress",
        {
            **REGION,
            "AllocationId": allocation_id,
            "InstanceId": eni.eni_id,
            "InstanceType": "NetworkInterface",
            "PrivateIpAddress": "198.51.100.3",
        },
    )
    assert engine.eips()[0].status == EipStatus.ASSOCIATING
    clock.advance(4.9)
    assert engine.eips()[0].status == EipStatus.ASSOCIATING
    clock.advance(0.1)
    assert engine.eips()[0].status == EipStatus.IN_USE


def test_auto_enis_cover_each_block_and_yield_to_registered_enis() -> None:
    engine, _ = _engine()
    registered = engine.add_eni(primary_ip="198.51.100.5", private_ips=("198.51.100.6",))
    answer = engine.handle("DescribeNetworkInterfaces", {**REGION, "PrivateIpAddress.1": "198.51.100.6"})
    assert [eni.eni_id for eni in wire.enis_from_answer(answer)] == [registered.eni_id]
    answer = engine.handle("DescribeNetworkInterfaces", {**REGION, "PrivateIpAddress.1": "198.51.100.7"})
    (auto,) = wire.enis_from_answer(answer)
    assert auto.primary_ip == "198.51.100.0" and "198.51.100.63" in auto.private_ips
    assert "198.51.100.6" not in auto.private_ips and "198.51.100.64" not in auto.private_ips


def test_the_call_log_shows_committed_mutations_per_eip_even_when_the_answer_was_lost() -> None:
    engine, _ = _engine()
    engine.faults.add(Fault(action="AllocateEipAddress", code=None))
    with pytest.raises(errors.Transport):
        _allocate(engine, token="tok")
    allocation_id = _allocate(engine, token="tok")
    engine.faults.add(Fault(action="ReleaseEipAddress", code="InternalError"))
    with pytest.raises(errors.Transient):
        engine.handle("ReleaseEipAddress", {**REGION, "AllocationId": allocation_id})
    mutations = engine.mutations(allocation_id=allocation_id)
    assert [(call.action, call.result) for call in mutations] == [
        ("AllocateEipAddress", "Transport"),
        ("AllocateEipAddress", "OK"),
    ]
    assert len(engine.eips()) == 1


def test_the_call_log_counts_a_tag_call_for_each_eip_it_names() -> None:
    engine, _ = _engine()
    first, second, untouched = _allocate(engine), _allocate(engine), _allocate(engine)
    tag = {"ResourceType": "EIP", "Tag.1.Key": "team", "Tag.1.Value": "games"}
    engine.handle("TagResources", {**REGION, **tag, "ResourceId.1": first, "ResourceId.2": second})
    for allocation_id in (first, second):
        assert [c.action for c in engine.mutations(allocation_id=allocation_id)][-1] == "TagResources"
    assert [c.action for c in engine.mutations(allocation_id=untouched)] == ["AllocateEipAddress"]


def test_out_of_band_edits_and_deletions_are_visible() -> None:
    engine, _ = _engine()
    allocation_id = _allocate(engine)
    engine.edit_eip(allocation_id, tags={})
    engine.edit_eip(allocation_id, locked=True)
    with pytest.raises(errors.Forbidden):
        engine.handle("ReleaseEipAddress", {**REGION, "AllocationId": allocation_id})
    engine.delete_eip(allocation_id)
    assert engine.eips() == []


@pytest.mark.parametrize(
    ("params", "code"), [({}, "MissingParameter"), ({"RegionId": "us-west-1"}, "InvalidRegionId.NotFound")]
)
def test_requests_without_the_engines_region_are_refused(params: dict[str, str], code: str) -> None:
    engine, _ = _engine()
    with pytest.raises(errors.InvalidParameter) as caught:
        engine.handle("DescribeEipAddresses", params)
    assert caught.value.code == code


def test_server_throttling_follows_its_bucket_on_the_engines_clock() -> None:
    engine, clock = _engine(rate_limits={"DescribeEipAddresses": RateLimit(per_minute=60, burst=1)})
    engine.handle("DescribeEipAddresses", REGION)
    with pytest.raises(errors.Throttled):
        engine.handle("DescribeEipAddresses", REGION)
    clock.advance(1.0)
    engine.handle("DescribeEipAddresses", REGION)
