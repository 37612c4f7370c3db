"""We test these aspects: the batch forms of the port, the same way on both providers.

- ``describe_eips`` by allocation IDs: up to 50 IDs go in one DescribeEipAddresses (Alibaba's
  documented maximum for ``AllocationId``), 51 in two; IDs that do not exist are not answered;
- ``find_enis``: up to 100 pod IPs go in one DescribeNetworkInterfaces (``PrivateIpAddress.N``,
  N ≤ 100), 150 in two; an exclusive ENI is found by its primary IP; an IP outside the VPC maps
  to no ENI; every IP asked is a key of the answer;
- the simulated cloud refuses requests beyond those maxima with ``InvalidParameter``, over the
  official SDK's HTTP as in process, so a provider that stopped splitting would be caught.
"""

from __future__ import annotations

import pytest

from podeip.cloud import errors
from podeip.cloud.alibaba.openapi import wire
from podeip.cloud.alibaba.openapi.operations import EipOperations
from podeip.cloud.provider import EipProvider
from podeip.simulator.engine import Engine


def _sizes(engine: Engine, action: str, prefix: str) -> list[int]:
    """How many values of ``prefix`` each call of ``action`` carried (comma list or .N)."""
    sizes = []
    for call in engine.call_log(action=action):
        if prefix in call.params:
            sizes.append(len(call.params[prefix].split(",")))
        else:
            sizes.append(sum(key.startswith(prefix + ".") for key in call.params))
    return sizes


@pytest.mark.parametrize(("count", "calls"), [(50, [50]), (51, [50, 1])])
async def test_describe_by_ids_sends_at_most_50_per_call(
    provider: EipProvider, engine: Engine, count: int, calls: list[int]
) -> None:
    seeded = [engine.seed_eip().allocation_id for _ in range(count - 1)]
    asked = [*seeded, "eip-doesnotexist"]
    found = await provider.describe_eips(allocation_ids=asked)
    assert sorted(eip.allocation_id for eip in found) == sorted(seeded)
    assert _sizes(engine, "DescribeEipAddresses", "AllocationId") == calls


async def test_find_enis_sends_at_most_100_ips_per_call_and_answers_every_ip(
    provider: EipProvider, engine: Engine
) -> None:
    exclusive = engine.add_eni(primary_ip="198.51.100.200", type="Primary")
    pod_ips = [f"198.51.100.{n}" for n in range(10, 160)]
    asked = [*pod_ips, "198.51.100.200", "192.0.2.1"]
    found = await provider.find_enis(asked)
    assert set(found) == set(asked)
    assert all(len(found[ip]) == 1 and found[ip][0].holds(ip) for ip in pod_ips)
    assert len({found[ip][0].eni_id for ip in pod_ips}) == 3  # the simulator's /26 blocks
    assert [eni.eni_id for eni in found["198.51.100.200"]] == [exclusive.eni_id]
    assert found["192.0.2.1"] == ()
    calls = engine.call_log(action="DescribeNetworkInterfaces")
    assert _sizes(engine, "DescribeNetworkInterfaces", "PrivateIpAddress") == [100, 52, 0, 0]
    assert [call.params.get("PrimaryIpAddress") for call in calls[2:]] == ["198.51.100.200", "192.0.2.1"]


async def test_find_eni_is_the_batch_form_of_one_ip(provider: EipProvider) -> None:
    one = await provider.find_eni("198.51.100.23")
    batch = await provider.find_enis(["198.51.100.23"])
    assert one is not None and batch == {"198.51.100.23": (one,)}


async def test_the_simulated_cloud_refuses_more_than_the_documented_maxima(
    provider: EipProvider, engine: Engine
) -> None:
    assert isinstance(provider, EipOperations)
    region, vpc = engine.config.region_id, engine.config.vpc_id
    too_many_ids = [f"eip-{n}" for n in range(51)]
    too_many_ips = [f"198.51.100.{n}" for n in range(101)]
    ids = wire.describe_eips(region_id=region, page=1, page_size=100, allocation_ids=too_many_ids)
    page = wire.describe_eips(region_id=region, page=1, page_size=101)
    ips = wire.describe_enis(region_id=region, vpc_id=vpc, private_ips=too_many_ips)
    requests = [
        ("DescribeEipAddresses", ids),
        ("DescribeEipAddresses", page),
        ("DescribeNetworkInterfaces", ips),
    ]
    for action, params in requests:
        with pytest.raises(errors.InvalidParameter) as refused:
            await provider._call(action, params)
        assert refused.value.code == "InvalidParameter", action
