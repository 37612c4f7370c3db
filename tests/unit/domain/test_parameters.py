"""We test these aspects: every value parser raises nothing but its own typed error for
arbitrary text, returns only bounded values when it accepts, and the bandwidth limits follow
the EIP API's table for each pair of charge types."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podeip.domain import parameters as p

PARSERS: dict[str, Callable[[str], object]] = {
    "bandwidth": lambda v: p.parse_bandwidth(v, maximum=200, charge_type="PayByTraffic"),
    "internet": lambda v: p.parse_choice(v, p.InternetChargeType),
    "instance": lambda v: p.parse_choice(v, p.InstanceChargeType),
    "isp": lambda v: p.parse_choice(v, p.Isp),
    "eip-id": lambda v: p.parse_resource_id(v, prefix="eip-"),
    "name": lambda v: p.parse_bounded_text(v, maximum=p.MAX_NAME),
    "protection": p.parse_security_protection_types,
    "tags": lambda v: p.parse_user_tags(
        v, max_tags=15, reserved_prefix="podeip-controller.alibabacloud.com/"
    ),
}

texts = st.one_of(
    st.text(max_size=60),
    st.text(alphabet='{}[]":,0123456789Mm .-abceipABC_', max_size=60),
    st.sampled_from(["5M", "eip-abc", '{"a":"b"}', "AntiDDoS_Enhanced", "bgp", "[" * 3000]),
)


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(text=texts)
def test_parsers_raise_only_invalid_value_for_arbitrary_text(name: str, text: str) -> None:
    try:
        value = PARSERS[name](text)
    except p.InvalidValue as exc:
        assert exc.allowed
        return
    if name == "bandwidth":
        assert isinstance(value, int) and 1 <= value <= 200
    elif name in ("eip-id", "name"):
        assert isinstance(value, str) and len(value) <= p.MAX_NAME
    elif name == "tags":
        assert isinstance(value, dict) and len(value) <= 15
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


@pytest.mark.parametrize(
    ("instance", "internet", "limit"),
    [
        (p.InstanceChargeType.POST_PAID, p.InternetChargeType.PAY_BY_TRAFFIC, 200),
        (p.InstanceChargeType.POST_PAID, p.InternetChargeType.PAY_BY_BANDWIDTH, 500),
        (p.InstanceChargeType.PRE_PAID, p.InternetChargeType.PAY_BY_BANDWIDTH, 1000),
        (p.InstanceChargeType.PRE_PAID, p.InternetChargeType.PAY_BY_TRAFFIC, 0),
    ],
)
def test_bandwidth_limit_follows_the_api_table(
    instance: p.InstanceChargeType, internet: p.InternetChargeType, limit: int
) -> None:
    assert p.bandwidth_limit(instance=instance, internet=internet, cap=10_000) == limit
    assert p.bandwidth_limit(instance=instance, internet=internet, cap=50) == min(limit, 50)


def test_choices_are_normalized_to_the_api_spelling() -> None:
    assert p.parse_choice("chinamobile_l2", p.Isp) is p.Isp.CHINA_MOBILE_L2
    assert p.parse_choice("BGP_FinanceCloud", p.Isp).value == "BGP_FinanceCloud"


@pytest.mark.parametrize("text", [" BGP", "BGP ", "BGP\n", "\tBGP", "B GP", "BGP\x00"])
def test_no_parser_trims_surrounding_blanks(text: str) -> None:
    with pytest.raises(p.InvalidValue):
        p.parse_choice(text, p.Isp)
    with pytest.raises(p.InvalidValue):
        p.parse_resource_id(text.replace("BGP", "rg-abc"), prefix="rg-")
    with pytest.raises(p.InvalidValue):
        p.parse_bandwidth(text.replace("BGP", "5"), maximum=200, charge_type="PayByTraffic")


@pytest.mark.parametrize(
    "text", ['{"a":"\\ud800"}', '{"\\udfff":"v"}', '{"a":"\\u0000"}', '{"a":"x\\u2028y"}', '{"a":"\\t"}']
)
def test_tags_with_surrogates_or_control_characters_are_refused(text: str) -> None:
    with pytest.raises(p.InvalidValue, match="printable text"):
        p.parse_user_tags(text, max_tags=15, reserved_prefix="x/")


def test_huge_or_deeply_nested_values_are_refused_quickly() -> None:
    for text in ("[" * 100_000, '{"a":' * 100_000, "x" * 262_144):
        with pytest.raises(p.InvalidValue):
            p.parse_user_tags(text, max_tags=15, reserved_prefix="x/")
    with pytest.raises(p.InvalidValue):
        p.parse_security_protection_types("," * 262_144)
    with pytest.raises(p.InvalidValue):
        p.parse_choice("b" * 262_144, p.Isp)


def test_tags_come_back_sorted_by_key() -> None:
    tags = p.parse_user_tags('{"z":"1","a":""}', max_tags=15, reserved_prefix="x/")
    assert list(tags) == ["a", "z"] and tags["a"] == ""
