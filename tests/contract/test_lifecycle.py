"""We test these aspects: the EIP lifecycle every provider must implement the same way.

Allocate with options and tags, describe by ID, tags, IP and association, associate and wait
for InUse, unassociate and wait for Available, release (also of missing and releasing EIPs),
tagging, shared bandwidth packages, ENI lookup for pod IPs and bounded waits.
"""

from __future__ import annotations

import pytest

from podeip.cloud import errors
from podeip.cloud.clock import ManualClock
from podeip.cloud.models import NETWORK_INTERFACE, AllocateRequest, EipStatus
from podeip.cloud.provider import EipProvider
from podeip.simulator.engine import Engine

OWNER = {
    "podeip-controller.alibabacloud.com/cluster-id": "c1",
    "podeip-controller.alibabacloud.com/podeip-uid": "u1",
}
POD_IP = "198.51.100.23"


async def _bound_eip(provider: EipProvider, *, pod_ip: str = POD_IP, token: str = "a-1") -> tuple[str, str]:
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token=token)
    eni = await provider.find_eni(pod_ip)
    assert eni is not None
    await provider.associate_eip(
        allocation.allocation_id, eni_id=eni.eni_id, private_ip=pod_ip, client_token="s-" + token
    )
    await provider.wait_for_status(allocation.allocation_id, wanted=EipStatus.IN_USE, timeout=30)
    return allocation.allocation_id, eni.eni_id


async def test_allocate_creates_an_available_eip_with_options_and_tags(provider: EipProvider) -> None:
    request = AllocateRequest(
        bandwidth=20,
        internet_charge_type="PayByTraffic",
        instance_charge_type="PostPaid",
        isp="BGP_PRO",
        resource_group_id="rg-team",
        name="web-0",
        description="for web-0",
        security_protection_types=("AntiDDoS_Enhanced",),
        tags={"team": "web", "empty": ""},
    )
    allocation = await provider.allocate_eip(request, owner_tags=OWNER, client_token="a-opts")
    eip = await provider.get_eip(allocation.allocation_id)
    assert eip is not None
    assert eip.ip_address == allocation.ip_address
    assert eip.status == EipStatus.AVAILABLE
    assert (eip.bandwidth, eip.internet_charge_type, eip.instance_charge_type) == (
        20,
        "PayByTraffic",
        "PostPaid",
    )
    assert (eip.isp, eip.resource_group_id, eip.name, eip.description) == (
        "BGP_PRO",
        "rg-team",
        "web-0",
        "for web-0",
    )
    assert eip.security_protection_types == ("AntiDDoS_Enhanced",)
    assert dict(eip.tags) == {"team": "web", "empty": "", **OWNER}
    assert eip.allocation_time is not None
    assert not eip.associated


async def test_allocate_without_options_gets_alibaba_defaults(provider: EipProvider) -> None:
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags={}, client_token="a-defaults")
    eip = await provider.get_eip(allocation.allocation_id)
    assert eip is not None
    assert (eip.bandwidth, eip.internet_charge_type, eip.instance_charge_type, eip.isp) == (
        5,
        "PayByBandwidth",
        "PostPaid",
        "BGP",
    )


async def test_owner_tags_win_over_user_tags_with_the_same_key(provider: EipProvider) -> None:
    key = "podeip-controller.alibabacloud.com/cluster-id"
    request = AllocateRequest(tags={key: "forged"})
    allocation = await provider.allocate_eip(request, owner_tags=OWNER, client_token="a-forge")
    eip = await provider.get_eip(allocation.allocation_id)
    assert eip is not None and eip.tags[key] == "c1"


async def test_describe_finds_eips_by_id_tags_and_address(provider: EipProvider) -> None:
    ours = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-ours")
    other = await provider.allocate_eip(AllocateRequest(), owner_tags={"x": "y"}, client_token="a-other")
    by_id = await provider.describe_eips(allocation_ids=[ours.allocation_id, other.allocation_id])
    by_tags = await provider.describe_eips(tags=OWNER)
    by_ip = await provider.describe_eips(ip_addresses=[other.ip_address])
    assert {eip.allocation_id for eip in by_id} == {ours.allocation_id, other.allocation_id}
    assert [eip.allocation_id for eip in by_tags] == [ours.allocation_id]
    assert [eip.allocation_id for eip in by_ip] == [other.allocation_id]


async def test_describe_pages_and_batches_beyond_api_maxima(provider: EipProvider, engine: Engine) -> None:
    seeded = [engine.seed_eip(tags={"batch": "b"}).allocation_id for _ in range(130)]
    by_tags = await provider.describe_eips(tags={"batch": "b"})
    by_ids = await provider.describe_eips(allocation_ids=seeded[:70])
    assert sorted(eip.allocation_id for eip in by_tags) == sorted(seeded)
    assert sorted(eip.allocation_id for eip in by_ids) == sorted(seeded[:70])


async def test_get_eip_of_an_unknown_id_is_none(provider: EipProvider) -> None:
    assert await provider.get_eip("eip-doesnotexist") is None


async def test_associate_passes_associating_and_reaches_in_use(provider: EipProvider) -> None:
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-1")
    eni = await provider.find_eni(POD_IP)
    assert eni is not None and eni.holds(POD_IP)
    await provider.associate_eip(
        allocation.allocation_id, eni_id=eni.eni_id, private_ip=POD_IP, client_token="s-1"
    )
    during = await provider.get_eip(allocation.allocation_id)
    done = await provider.wait_for_status(allocation.allocation_id, wanted=EipStatus.IN_USE, timeout=30)
    assert during is not None and during.status == EipStatus.ASSOCIATING
    assert (done.instance_id, done.instance_type, done.private_ip_address) == (
        eni.eni_id,
        NETWORK_INTERFACE,
        POD_IP,
    )
    by_eni = await provider.describe_eips(instance_id=eni.eni_id)
    assert [eip.allocation_id for eip in by_eni] == [allocation.allocation_id]


async def test_unassociate_passes_unassociating_and_reaches_available(provider: EipProvider) -> None:
    allocation_id, eni_id = await _bound_eip(provider)
    await provider.unassociate_eip(allocation_id, eni_id=eni_id, private_ip=POD_IP, client_token="u-1")
    during = await provider.get_eip(allocation_id)
    done = await provider.wait_for_status(allocation_id, wanted=EipStatus.AVAILABLE, timeout=30)
    assert during is not None and during.status == EipStatus.UNASSOCIATING
    assert not done.associated and done.private_ip_address == ""


async def test_release_removes_the_eip_after_releasing(provider: EipProvider) -> None:
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-rel")
    await provider.release_eip(allocation.allocation_id)
    during = await provider.get_eip(allocation.allocation_id)
    assert during is not None and during.status == EipStatus.RELEASING
    await provider.release_eip(allocation.allocation_id)  # a retry while releasing is fine
    with pytest.raises(errors.NotFound):
        await provider.wait_for_status(allocation.allocation_id, wanted=EipStatus.AVAILABLE, timeout=30)
    assert await provider.get_eip(allocation.allocation_id) is None


async def test_release_of_missing_eip_is_success(provider: EipProvider, engine: Engine) -> None:
    await provider.release_eip("eip-neverexisted")
    assert [call.result for call in engine.call_log(action="ReleaseEipAddress")] == [
        "InvalidAllocationId.NotFound"
    ]


async def test_unassociate_of_an_eip_bound_elsewhere_succeeds_without_touching_it(
    provider: EipProvider, engine: Engine
) -> None:
    foreign = engine.seed_eip(instance_id="i-ecs0001", instance_type="EcsInstance", private_ip="10.0.0.9")
    await provider.unassociate_eip(
        foreign.allocation_id, eni_id="eni-ours", private_ip=POD_IP, client_token="u-x"
    )
    after = await provider.get_eip(foreign.allocation_id)
    assert after is not None and after.status == EipStatus.IN_USE and after.instance_id == "i-ecs0001"


async def test_tag_eips_adds_tags_and_overwrites_values(provider: EipProvider) -> None:
    allocation = await provider.allocate_eip(
        AllocateRequest(tags={"a": "1"}), owner_tags={}, client_token="a-tag"
    )
    await provider.tag_eips([allocation.allocation_id], tags={"a": "2", "b": ""})
    eip = await provider.get_eip(allocation.allocation_id)
    assert eip is not None and dict(eip.tags) == {"a": "2", "b": ""}


async def test_bandwidth_package_membership_is_added_and_removed_idempotently(
    provider: EipProvider, engine: Engine
) -> None:
    cbwp = engine.add_bandwidth_package()
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-cbwp")
    eip_id = allocation.allocation_id
    await provider.add_to_bandwidth_package(eip_id, bandwidth_package_id=cbwp, client_token="b-1")
    await provider.add_to_bandwidth_package(eip_id, bandwidth_package_id=cbwp, client_token="b-2")
    member = await provider.get_eip(eip_id)
    await provider.remove_from_bandwidth_package(eip_id, bandwidth_package_id=cbwp, client_token="r-1")
    await provider.remove_from_bandwidth_package(eip_id, bandwidth_package_id=cbwp, client_token="r-2")
    alone = await provider.get_eip(eip_id)
    assert member is not None and member.bandwidth_package_id == cbwp
    assert alone is not None and alone.bandwidth_package_id == ""


async def test_adding_to_a_missing_bandwidth_package_is_not_found(provider: EipProvider) -> None:
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-nocbwp")
    with pytest.raises(errors.NotFound):
        await provider.add_to_bandwidth_package(
            allocation.allocation_id, bandwidth_package_id="cbwp-missing", client_token="b-x"
        )


async def test_find_eni_resolves_any_vpc_ip_and_nothing_outside(provider: EipProvider) -> None:
    first = await provider.find_eni("198.51.100.10")
    same_block = await provider.find_eni("198.51.100.60")
    other_block = await provider.find_eni("198.51.100.70")
    assert first is not None and same_block is not None and other_block is not None
    assert first.eni_id == same_block.eni_id != other_block.eni_id
    assert await provider.find_eni("192.0.2.1") is None


async def test_find_eni_finds_an_exclusive_eni_by_its_primary_ip(
    provider: EipProvider, engine: Engine
) -> None:
    exclusive = engine.add_eni(primary_ip="198.51.100.200", type="Primary")
    found = await provider.find_eni("198.51.100.200")
    assert found is not None and found.eni_id == exclusive.eni_id
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-excl")
    await provider.associate_eip(
        allocation.allocation_id, eni_id=exclusive.eni_id, private_ip="198.51.100.200", client_token="s-excl"
    )
    eip = await provider.wait_for_status(allocation.allocation_id, wanted=EipStatus.IN_USE, timeout=30)
    # Alibaba leaves PrivateIpAddress empty for an ENI's primary IP.
    assert eip.instance_id == exclusive.eni_id and eip.private_ip_address == ""


async def test_wait_for_status_gives_up_after_its_timeout(provider: EipProvider, clock: ManualClock) -> None:
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-wait")
    started = clock()
    with pytest.raises(errors.WaitTimeout):
        await provider.wait_for_status(allocation.allocation_id, wanted=EipStatus.IN_USE, timeout=15)
    assert 15 <= clock() - started < 30
