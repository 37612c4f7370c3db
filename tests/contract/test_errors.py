"""We test these aspects: idempotency, error classes, retries and rate limits, per provider.

ClientToken replay and IdempotentParameterMismatch; a lost answer retried leaves exactly one
EIP; every error class comes from the right Alibaba code; state conflicts; quota; retryable
errors are retried with growing backoff and others are not; server throttling is retried;
the client-side limiter keeps the call rate under the server's limit.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from podeip.cloud import errors
from podeip.cloud.clock import ManualClock
from podeip.cloud.models import AllocateRequest, EipStatus
from podeip.cloud.provider import EipProvider
from podeip.settings import RateLimit
from podeip.simulator.engine import Engine
from podeip.simulator.faults import Fault

ProviderFactory = Callable[..., EipProvider]
OWNER = {"podeip-controller.alibabacloud.com/podeip-uid": "u1"}
POD_IP = "198.51.100.40"


async def test_same_token_returns_the_same_eip(provider: EipProvider, engine: Engine) -> None:
    first = await provider.allocate_eip(AllocateRequest(bandwidth=7), owner_tags=OWNER, client_token="a-u1-0")
    again = await provider.allocate_eip(AllocateRequest(bandwidth=7), owner_tags=OWNER, client_token="a-u1-0")
    assert (again.allocation_id, again.ip_address) == (first.allocation_id, first.ip_address)
    assert len(engine.eips()) == 1


async def test_same_token_with_other_parameters_is_idempotent_parameter_mismatch(
    provider: EipProvider,
) -> None:
    await provider.allocate_eip(AllocateRequest(bandwidth=7), owner_tags=OWNER, client_token="a-u1-0")
    with pytest.raises(errors.IdempotentParameterMismatch) as caught:
        await provider.allocate_eip(AllocateRequest(bandwidth=8), owner_tags=OWNER, client_token="a-u1-0")
    assert caught.value.code == "IdempotentParameterMismatch" and not caught.value.retryable


async def test_lost_allocate_answer_retried_leaves_exactly_one_eip(
    provider: EipProvider, engine: Engine
) -> None:
    engine.faults.add(Fault(action="AllocateEipAddress", code=None, commit=True))
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-lost")
    calls = engine.call_log(action="AllocateEipAddress")
    assert [call.result for call in calls] == ["Transport", "OK"]
    assert [eip.allocation_id for eip in engine.eips()] == [allocation.allocation_id]


async def test_lost_associate_answer_retried_binds_once(provider: EipProvider, engine: Engine) -> None:
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-1")
    eni = await provider.find_eni(POD_IP)
    assert eni is not None
    engine.faults.add(Fault(action="AssociateEipAddress", code=None, commit=True))
    await provider.associate_eip(
        allocation.allocation_id, eni_id=eni.eni_id, private_ip=POD_IP, client_token="s-1"
    )
    eip = await provider.wait_for_status(allocation.allocation_id, wanted=EipStatus.IN_USE, timeout=30)
    assert eip.instance_id == eni.eni_id
    assert len(engine.mutations(allocation_id=allocation.allocation_id)) == 3  # allocate + 2 tries, 1 effect


async def test_no_answer_at_all_ends_in_transport_error(provider: EipProvider, engine: Engine) -> None:
    engine.faults.add(Fault(action="DescribeEipAddresses", code=None, times=-1))
    with pytest.raises(errors.Transport):
        await provider.get_eip("eip-any")
    assert len(engine.call_log(action="DescribeEipAddresses")) == 5  # the api policy's attempts


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("InvalidAllocationId.NotFound", errors.NotFound),
        ("IncorrectEipStatus", errors.InvalidState),
        ("QuotaExceeded.Eip", errors.QuotaExceeded),
        ("Forbidden.RAM", errors.Forbidden),
        ("InvalidParameter", errors.InvalidParameter),
        ("OperationFailed.InsufficientEIP", errors.QuotaExceeded),
    ],
)
async def test_permanent_codes_raise_their_class_at_once(
    provider: EipProvider, engine: Engine, code: str, cls: type[errors.CloudError]
) -> None:
    engine.faults.add(Fault(action="AllocateEipAddress", code=code))
    with pytest.raises(cls) as caught:
        await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-x")
    assert caught.value.code == code and caught.value.request_id
    assert len(engine.call_log(action="AllocateEipAddress")) == 1


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("Throttling.User", errors.Throttled),
        ("TaskConflict", errors.TaskConflict),
        ("InternalError", errors.Transient),
        ("ServiceUnavailable", errors.Transient),
    ],
)
async def test_retryable_codes_are_retried_with_growing_backoff_then_raised(
    provider: EipProvider, engine: Engine, clock: ManualClock, code: str, cls: type[errors.CloudError]
) -> None:
    engine.faults.add(Fault(action="AllocateEipAddress", code=code, times=-1))
    with pytest.raises(cls):
        await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-x")
    assert len(engine.call_log(action="AllocateEipAddress")) == 5
    assert clock.sleeps == sorted(clock.sleeps) and clock.sleeps[-1] > clock.sleeps[0]


async def test_a_retryable_error_that_clears_ends_in_success(provider: EipProvider, engine: Engine) -> None:
    engine.faults.add(Fault(action="AllocateEipAddress", code="InternalError", times=2))
    await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-x")
    assert [call.result for call in engine.call_log(action="AllocateEipAddress")] == [
        "InternalError",
        "InternalError",
        "OK",
    ]


async def test_invalid_bandwidth_is_invalid_parameter(provider: EipProvider) -> None:
    with pytest.raises(errors.InvalidParameter) as caught:
        await provider.allocate_eip(
            AllocateRequest(bandwidth=300, internet_charge_type="PayByTraffic"),
            owner_tags={},
            client_token="a-bw",
        )
    assert caught.value.code == "InvalidBandwidth.Malformed"


async def test_reserved_tag_keys_are_invalid_parameter(provider: EipProvider) -> None:
    with pytest.raises(errors.InvalidParameter):
        await provider.allocate_eip(
            AllocateRequest(tags={"aliyun:x": "1"}), owner_tags={}, client_token="a-t"
        )


async def test_quota_is_enforced_at_twenty_eips(provider: EipProvider, engine: Engine) -> None:
    for index in range(20):
        await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token=f"a-{index}")
    with pytest.raises(errors.QuotaExceeded) as caught:
        await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-20")
    assert caught.value.code == "QuotaExceeded.Eip" and len(engine.eips()) == 20


async def test_associating_an_eip_in_use_elsewhere_is_invalid_state(
    provider: EipProvider, engine: Engine
) -> None:
    foreign = engine.seed_eip(instance_id="i-ecs0001", instance_type="EcsInstance", private_ip="10.0.0.9")
    eni = await provider.find_eni(POD_IP)
    assert eni is not None
    with pytest.raises(errors.InvalidState) as caught:
        await provider.associate_eip(
            foreign.allocation_id, eni_id=eni.eni_id, private_ip=POD_IP, client_token="s-r"
        )
    assert caught.value.code == "IncorrectEipStatus"
    after = await provider.get_eip(foreign.allocation_id)
    assert after is not None and after.instance_id == "i-ecs0001"


async def test_releasing_an_eip_in_use_is_invalid_state(provider: EipProvider, engine: Engine) -> None:
    bound = engine.seed_eip(instance_id="nat-0001", instance_type="Nat")
    with pytest.raises(errors.InvalidState):
        await provider.release_eip(bound.allocation_id)
    assert await provider.get_eip(bound.allocation_id) is not None


async def test_a_second_eip_for_a_bound_ip_is_refused(provider: EipProvider) -> None:
    eni = await provider.find_eni(POD_IP)
    assert eni is not None
    first = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-1")
    second = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-2")
    await provider.associate_eip(
        first.allocation_id, eni_id=eni.eni_id, private_ip=POD_IP, client_token="s-1"
    )
    with pytest.raises(errors.InvalidState) as caught:
        await provider.associate_eip(
            second.allocation_id, eni_id=eni.eni_id, private_ip=POD_IP, client_token="s-2"
        )
    assert caught.value.code == "InvalidAssociation.Duplicated"


async def test_associating_to_an_unknown_eni_is_target_gone(provider: EipProvider) -> None:
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-1")
    with pytest.raises(errors.TargetGone):
        await provider.associate_eip(
            allocation.allocation_id, eni_id="eni-gone", private_ip="10.9.9.9", client_token="s"
        )


async def test_associating_during_a_transition_waits_out_the_task_conflict(
    provider: EipProvider, engine: Engine
) -> None:
    allocation = await provider.allocate_eip(AllocateRequest(), owner_tags=OWNER, client_token="a-1")
    eni = await provider.find_eni(POD_IP)
    assert eni is not None
    await provider.associate_eip(
        allocation.allocation_id, eni_id=eni.eni_id, private_ip=POD_IP, client_token="s-1"
    )
    # Another token while Associating: TaskConflict, retried; then InUse on our target is success.
    await provider.associate_eip(
        allocation.allocation_id, eni_id=eni.eni_id, private_ip=POD_IP, client_token="s-2"
    )
    results = [call.result for call in engine.call_log(action="AssociateEipAddress")]
    assert results[0] == "OK" and "TaskConflict" in results and results[-1] == "IncorrectEipStatus"


async def test_server_throttling_is_retried_until_calls_pass(
    make_provider: ProviderFactory, engine: Engine
) -> None:
    engine.with_config(rate_limits={"DescribeEipAddresses": RateLimit(per_minute=60, burst=2)})
    provider = make_provider()
    for _ in range(5):
        await provider.get_eip("eip-any")
    results = [call.result for call in engine.call_log(action="DescribeEipAddresses")]
    assert results.count("OK") == 5 and "Throttling.User" in results


async def test_client_limiter_keeps_below_the_server_limit(
    make_provider: ProviderFactory, engine: Engine
) -> None:
    engine.with_config(rate_limits={"DescribeEipAddresses": RateLimit(per_minute=60, burst=2)})
    provider = make_provider(rate_limits={"DescribeEipAddresses": RateLimit(per_minute=50, burst=2)})
    for _ in range(8):
        await provider.get_eip("eip-any")
    results = [call.result for call in engine.call_log(action="DescribeEipAddresses")]
    assert results == ["OK"] * 8
