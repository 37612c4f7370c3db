"""We test these aspects: every documented key under both prefixes and its compat alias, valid
and invalid; precedence and conflict warnings; what enables an EIP (Auto, Static, neither);
ignored parameters; release strategies by owner kind; errors that name key, value and what is
allowed on one line; the request's deterministic JSON; and arbitrary values never crashing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podeip import constants as c
from podeip.api.podeip import AllocationType, ReleaseStrategy
from podeip.domain.annotations import EipRequest, candidate_keys, parse_pod_annotations
from podeip.domain.parameters import InstanceChargeType, InternetChargeType, Isp, SecurityProtectionType
from podeip.domain.request import show

AUTO = c.PREFIX_K8S + c.POD_WITH_EIP
N = c.PREFIX_NETWORK
K = c.PREFIX_K8S


def parse(annotations: dict[str, str], owner_kind: str | None = "StatefulSet", **options: Any) -> Any:
    return parse_pod_annotations(annotations, owner_kind=owner_kind, **options)


def keyed(suffix: str) -> list[str]:
    return list(candidate_keys(suffix))


def test_candidate_keys_cover_both_prefixes_and_the_three_aliases_in_precedence_order() -> None:
    assert keyed(c.POD_WITH_EIP) == [N + "pod-with-eip", K + "pod-with-eip", K + "eci-with-eip"]
    assert keyed(c.POD_EIP_INSTANCE_ID) == [
        N + "pod-eip-instanceid",
        K + "pod-eip-instanceid",
        K + "eci-eip-instanceid",
        c.ACS_ALLOCATED_EIP_ID,
    ]
    assert candidate_keys(c.POD_EIP_INSTANCE_ID, eci_aliases=False) == (
        N + "pod-eip-instanceid",
        K + "pod-eip-instanceid",
        c.ACS_ALLOCATED_EIP_ID,
    )
    assert candidate_keys(c.EIP_INTERNET_CHARGE_TYPE, eci_aliases=False)[2:] == (K + "eip-charge-type",)
    assert keyed(c.EIP_INTERNET_CHARGE_TYPE)[2:] == [K + "eip-charge-type"]
    assert keyed(c.EIP_BANDWIDTH) == [N + "eip-bandwidth", K + "eip-bandwidth"]


#: (suffix, annotation value, request field, expected field value) for an Auto pod
VALID_AUTO = [
    (c.EIP_BANDWIDTH, "10", "bandwidth", 10),
    (c.EIP_BANDWIDTH, "5M", "bandwidth", 5),
    (
        c.EIP_INTERNET_CHARGE_TYPE,
        "PayByBandwidth",
        "internet_charge_type",
        InternetChargeType.PAY_BY_BANDWIDTH,
    ),
    (c.EIP_INTERNET_CHARGE_TYPE, "paybytraffic", "internet_charge_type", InternetChargeType.PAY_BY_TRAFFIC),
    (c.EIP_INSTANCE_CHARGE_TYPE, "PostPaid", "instance_charge_type", InstanceChargeType.POST_PAID),
    (c.EIP_ISP, "BGP_PRO", "isp", Isp.BGP_PRO),
    (c.EIP_ISP, "ChinaTelecom_L2", "isp", Isp.CHINA_TELECOM_L2),
    (c.EIP_COMMON_BANDWIDTH_PACKAGE_ID, "cbwp-2ze0abc", "bandwidth_package_id", "cbwp-2ze0abc"),
    (c.EIP_PUBLIC_IP_ADDRESS_POOL_ID, "pippool-2ze498c", "public_ip_address_pool_id", "pippool-2ze498c"),
    (c.EIP_RESOURCE_GROUP_ID, "rg-acfmwqnw", "resource_group_id", "rg-acfmwqnw"),
    (c.EIP_NAME, "default/example-0", "name", "default/example-0"),
    (c.EIP_DESCRIPTION, "game server", "description", "game server"),
    (
        c.EIP_SECURITY_PROTECTION_TYPES,
        "AntiDDoS_Enhanced",
        "security_protection_types",
        (SecurityProtectionType.ANTI_DDOS_ENHANCED,),
    ),
    (c.EIP_TAGS, '{"foo":"bar"}', "tags", {"foo": "bar"}),
    (c.RELEASE_STRATEGY, "Never", "release_strategy", ReleaseStrategy.NEVER),
    (c.RELEASE_STRATEGY, "5m30s", "release_ttl", timedelta(minutes=5, seconds=30)),
]


@pytest.mark.parametrize(
    ("key", "value", "field", "expected"),
    [(key, value, field, expected) for suffix, value, field, expected in VALID_AUTO for key in keyed(suffix)],
)
def test_every_key_is_read_under_every_spelling(key: str, value: str, field: str, expected: object) -> None:
    result = parse({AUTO: "true", key: value})
    assert result.errors == () and result.warnings == ()
    assert getattr(result.request, field) == expected


#: (suffix, invalid value, fragment of what is allowed)
INVALID_AUTO = [
    (c.EIP_BANDWIDTH, "0", "from 1 to 200 for PayByTraffic"),
    (c.EIP_BANDWIDTH, "201", "from 1 to 200 for PayByTraffic"),
    (c.EIP_BANDWIDTH, "5Mb", "such as 5 or 5M"),
    (c.EIP_BANDWIDTH, "1.5", "integer number of Mbit/s"),
    (c.EIP_BANDWIDTH, "-1", "integer number of Mbit/s"),
    (c.EIP_INTERNET_CHARGE_TYPE, "PayByHour", "one of PayByTraffic, PayByBandwidth"),
    (c.EIP_INSTANCE_CHARGE_TYPE, "PrePaid", "PrePaid (subscription) EIPs cannot be released"),
    (c.EIP_INSTANCE_CHARGE_TYPE, "Monthly", "one of PostPaid, PrePaid"),
    (c.EIP_ISP, "CMCC", "one of BGP, BGP_PRO, ChinaTelecom"),
    (c.EIP_COMMON_BANDWIDTH_PACKAGE_ID, "eip-123", "cbwp-<lower-case letters and digits>"),
    (c.EIP_PUBLIC_IP_ADDRESS_POOL_ID, "pippool-", "pippool-<lower-case"),
    (c.EIP_RESOURCE_GROUP_ID, "rg-ACF", "rg-<lower-case"),
    (c.EIP_NAME, "n" * 129, "at most 128 characters"),
    (c.EIP_DESCRIPTION, "d" * 257, "at most 256 characters"),
    (c.EIP_SECURITY_PROTECTION_TYPES, "AntiDDoS_Premium", "one of AntiDDoS_Enhanced"),
    (c.EIP_TAGS, "foo=bar", "a JSON object of at most 15 string tags"),
    (c.RELEASE_STRATEGY, "10", "missing unit"),
    (c.RELEASE_STRATEGY, "-5m", "must be positive"),
    (c.RELEASE_STRATEGY, "0s", "must be positive"),
    (c.RELEASE_STRATEGY, "Always", "invalid duration"),
    (c.RELEASE_STRATEGY, "1h\n", "without surrounding blanks"),
    (c.RELEASE_STRATEGY, " 10m", "invalid duration"),
    (c.RELEASE_STRATEGY, "Never ", "invalid duration"),
    (c.EIP_BANDWIDTH, "5 ", "such as 5 or 5M"),
    (c.EIP_ISP, "BGP\n", "one of BGP, BGP_PRO"),
    (c.EIP_INTERNET_CHARGE_TYPE, " PayByTraffic", "one of PayByTraffic"),
    (c.EIP_RESOURCE_GROUP_ID, "rg-abc ", "rg-<lower-case"),
    (c.EIP_TAGS, '{"a":"\\ud800"}', "printable text"),
    (c.EIP_TAGS, '{"a":"\\u0000"}', "printable text"),
    (c.EIP_TAGS, '{"a\\nb":"v"}', "printable text"),
    (c.EIP_NAME, "a\x00b", "printable text"),
]


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [(key, value, allowed) for suffix, value, allowed in INVALID_AUTO for key in keyed(suffix)],
)
def test_invalid_values_are_errors_naming_key_value_and_what_is_allowed(
    key: str, value: str, allowed: str
) -> None:
    result = parse({AUTO: "true", key: value})
    assert result.request is None and result.requested
    [error] = result.errors
    assert (error.key, error.value) == (key, value)
    assert error.message.startswith(f"{key}={show(value)}")
    assert allowed in error.message
    assert "\n" not in error.message


@pytest.mark.parametrize("key", keyed(c.POD_WITH_EIP))
def test_pod_with_eip_true_asks_for_an_auto_eip_with_explicit_defaults(key: str) -> None:
    request = parse({key: "true"}).request
    assert request == EipRequest(
        allocation_type=AllocationType.AUTO,
        bandwidth=5,
        internet_charge_type=InternetChargeType.PAY_BY_TRAFFIC,
        instance_charge_type=InstanceChargeType.POST_PAID,
    )


@pytest.mark.parametrize("value", ["false", ""])
def test_pod_with_eip_false_or_empty_asks_for_nothing_quietly(value: str) -> None:
    assert parse({AUTO: value}) == parse({})
    assert parse({}).request is None and not parse({}).requested and parse({}).warnings == ()


@pytest.mark.parametrize("value", ["True", "yes", "1", "on", "true ", " true", "true\n", "  "])
def test_other_pod_with_eip_values_are_errors_and_enable_nothing(value: str) -> None:
    result = parse({AUTO: value})
    assert result.request is None and result.requested
    [error] = result.errors
    assert error.key == AUTO and error.value == value and show(value) in error.message
    assert '"true" allocates an EIP' in error.message


@pytest.mark.parametrize("key", keyed(c.POD_EIP_INSTANCE_ID))
def test_instance_id_makes_a_static_request_by_itself(key: str) -> None:
    result = parse({key: "eip-bp14qxxxx"})
    assert result.request == EipRequest(allocation_type=AllocationType.STATIC, allocation_id="eip-bp14qxxxx")
    if key == c.ACS_ALLOCATED_EIP_ID:
        [note] = result.warnings
        assert (note.reason, note.key, note.event_type) == (c.EV_EXISTING_EIP_REQUESTED, key, "Normal")
    else:
        assert result.warnings == ()


def test_instance_id_with_pod_with_eip_is_static_and_warns() -> None:
    result = parse({AUTO: "true", N + c.POD_EIP_INSTANCE_ID: "eip-abc"})
    assert result.request is not None and result.request.allocation_type is AllocationType.STATIC
    [warning] = result.warnings
    assert warning.reason == c.EV_ANNOTATION_IGNORED and warning.key == AUTO


@pytest.mark.parametrize("value", ["eip-", "EIP-abc", "eip-ab c", "cbwp-abc", "eip-" + "a" * 61])
def test_malformed_instance_id_is_an_error(value: str) -> None:
    result = parse({K + c.POD_EIP_INSTANCE_ID: value})
    assert result.request is None and result.requested
    assert [e.key for e in result.errors] == [K + c.POD_EIP_INSTANCE_ID]


@pytest.mark.parametrize("suffix", [s for s, *_ in VALID_AUTO if s != c.RELEASE_STRATEGY])
def test_auto_only_parameters_on_a_static_pod_are_ignored_unvalidated_with_a_normal_notice(
    suffix: str,
) -> None:
    result = parse({K + c.POD_EIP_INSTANCE_ID: "eip-abc", K + suffix: "not-even-valid"})
    assert result.errors == ()
    assert result.request == EipRequest(allocation_type=AllocationType.STATIC, allocation_id="eip-abc")
    [warning] = result.warnings
    assert (warning.reason, warning.key, warning.event_type) == (
        c.EV_ANNOTATION_IGNORED,
        K + suffix,
        "Normal",
    )


def test_static_pod_keeps_its_release_strategy() -> None:
    result = parse({K + c.POD_EIP_INSTANCE_ID: "eip-abc", K + c.RELEASE_STRATEGY: "Never"})
    assert result.request is not None and result.request.release_strategy is ReleaseStrategy.NEVER


def test_parameters_without_an_enabling_key_are_ignored_unvalidated() -> None:
    result = parse({K + c.EIP_BANDWIDTH: "huge", N + c.EIP_TAGS: "{"})
    assert result.request is None and not result.requested and result.errors == ()
    [warning] = result.warnings
    assert warning.reason == c.EV_ANNOTATION_IGNORED
    assert K + c.EIP_BANDWIDTH in warning.message and N + c.EIP_TAGS in warning.message


def test_acs_allocated_eip_id_is_an_existing_eip_request_with_a_normal_event() -> None:
    result = parse({c.ACS_ALLOCATED_EIP_ID: "eip-abc", AUTO: "true"})
    assert result.request == EipRequest(allocation_type=AllocationType.STATIC, allocation_id="eip-abc")
    notes = {w.reason: w for w in result.warnings}
    acs = notes[c.EV_EXISTING_EIP_REQUESTED]
    assert acs.event_type == "Normal" and acs.key == c.ACS_ALLOCATED_EIP_ID and "Static" in acs.message
    assert notes[c.EV_ANNOTATION_IGNORED].key == AUTO  # pod-with-eip is redundant next to it
    with_instance = parse({c.ACS_ALLOCATED_EIP_ID: "eip-abc", K + c.POD_EIP_INSTANCE_ID: "eip-abc"})
    assert with_instance.request is not None and with_instance.warnings == ()
    differing = parse({c.ACS_ALLOCATED_EIP_ID: "eip-other", K + c.POD_EIP_INSTANCE_ID: "eip-abc"})
    assert differing.request is not None and differing.request.allocation_id == "eip-abc"
    [conflict] = differing.warnings
    assert (conflict.reason, conflict.key) == (c.EV_CONFLICTING_ANNOTATIONS, c.ACS_ALLOCATED_EIP_ID)
    bad = parse({c.ACS_ALLOCATED_EIP_ID: "203.0.113.9"})
    assert bad.request is None and [e.key for e in bad.errors] == [c.ACS_ALLOCATED_EIP_ID]


def test_eci_aliases_are_not_read_on_a_virtual_node_served_by_us() -> None:
    left = parse({K + "eci-with-eip": "true"}, eci_aliases=False)
    assert left.request is None and not left.requested
    [note] = left.warnings
    assert (note.reason, note.key, note.event_type) == (c.EV_ANNOTATION_IGNORED, K + "eci-with-eip", "Normal")
    assert parse({K + "eci-eip-instanceid": "eip-abc"}, eci_aliases=False).request is None
    own = parse({N + c.POD_WITH_EIP: "true", K + "eci-eip-instanceid": "eip-abc"}, eci_aliases=False)
    assert own.request is not None and own.request.allocation_type is AllocationType.AUTO
    [double] = own.warnings
    assert double.event_type == "Warning" and "two EIPs" in double.message
    assert parse({K + "eci-with-eip": "true"}).request is not None  # elsewhere the alias counts


@pytest.mark.parametrize(
    ("annotations", "bandwidth", "loser"),
    [
        ({N + "eip-bandwidth": "7", K + "eip-bandwidth": "9"}, 7, K + "eip-bandwidth"),
        ({K + "eip-bandwidth": "9", N + "eip-bandwidth": "7"}, 7, K + "eip-bandwidth"),
        ({N + "eip-bandwidth": "", K + "eip-bandwidth": "9"}, 9, None),
        ({N + "eip-bandwidth": "7", K + "eip-bandwidth": "7"}, 7, None),
    ],
)
def test_network_prefix_wins_over_k8s_prefix_and_disagreement_warns(
    annotations: dict[str, str], bandwidth: int, loser: str | None
) -> None:
    result = parse({AUTO: "true", **annotations})
    assert result.request is not None and result.request.bandwidth == bandwidth
    assert [w.key for w in result.warnings] == ([loser] if loser else [])
    assert all(w.reason == c.EV_CONFLICTING_ANNOTATIONS for w in result.warnings)


def test_prefixed_key_wins_over_the_alias() -> None:
    result = parse(
        {
            AUTO: "true",
            K + "eip-charge-type": "PayByBandwidth",
            K + "eip-internet-charge-type": "PayByTraffic",
        }
    )
    assert result.request is not None
    assert result.request.internet_charge_type is InternetChargeType.PAY_BY_TRAFFIC
    [warning] = result.warnings
    assert warning.key == K + "eip-charge-type" and "PayByBandwidth" in warning.message


def test_conflict_on_a_key_is_reported_once_even_when_read_twice() -> None:
    result = parse(
        {
            AUTO: "true",
            N + "eip-instance-charge-type": "PrePaid",
            N + "eip-internet-charge-type": "PayByTraffic",
            K + "eip-internet-charge-type": "PayByBandwidth",
        },
        allow_prepaid=True,
    )
    assert len(result.warnings) == 1
    assert [e.key for e in result.errors] == [N + "eip-internet-charge-type"]


@pytest.mark.parametrize(
    ("owner_kind", "custom", "strategy"),
    [
        (None, (), ReleaseStrategy.TTL),
        ("StatefulSet", (), ReleaseStrategy.TTL),
        ("statefulset", (), ReleaseStrategy.TTL),
        ("GameServerSet", ("GameServerSet",), ReleaseStrategy.TTL),
        ("GameServerSet", ("game.kruise.io/gameserverset",), ReleaseStrategy.TTL),
        ("Deployment", (), ReleaseStrategy.FOLLOW),
        ("ReplicaSet", (), ReleaseStrategy.FOLLOW),
        ("Job", (), ReleaseStrategy.FOLLOW),
        ("DaemonSet", (), ReleaseStrategy.FOLLOW),
    ],
)
def test_ttl_applies_to_stateful_owners_and_bare_pods_only(
    owner_kind: str | None, custom: tuple[str, ...], strategy: ReleaseStrategy
) -> None:
    result = parse(
        {AUTO: "true", K + c.RELEASE_STRATEGY: "10m"}, owner_kind=owner_kind, custom_stateful_kinds=custom
    )
    assert result.request is not None and result.request.release_strategy is strategy
    if strategy is ReleaseStrategy.TTL:
        assert (result.request.release_after, result.request.release_ttl) == ("10m", timedelta(minutes=10))
        assert result.warnings == ()
    else:
        assert result.request.release_after is None and result.request.release_ttl is None
        [warning] = result.warnings
        assert warning.reason == c.EV_RELEASE_STRATEGY_IGNORED and owner_kind in warning.message


def test_malformed_release_strategy_is_an_error_even_on_a_stateless_pod() -> None:
    result = parse({AUTO: "true", K + c.RELEASE_STRATEGY: "10 minutes"}, owner_kind="ReplicaSet")
    assert result.request is None and [e.key for e in result.errors] == [K + c.RELEASE_STRATEGY]


def test_release_strategy_words_match_without_regard_to_case_and_cap_is_configurable() -> None:
    assert (
        parse({AUTO: "true", K + c.RELEASE_STRATEGY: "never"}).request.release_strategy
        is ReleaseStrategy.NEVER
    )
    assert (
        parse({AUTO: "true", K + c.RELEASE_STRATEGY: "FOLLOW"}).request.release_strategy
        is ReleaseStrategy.FOLLOW
    )


def test_every_positive_go_duration_is_a_ttl_without_a_maximum() -> None:
    for text in ("720h", "8760h", "2562047h", "1ns", "1.5h"):
        request = parse({AUTO: "true", K + c.RELEASE_STRATEGY: text}).request
        assert request is not None and request.release_after == text, text
    assert parse({AUTO: "true", K + c.RELEASE_STRATEGY: "720h"}).warnings == ()


def test_a_ttl_above_the_administrators_maximum_is_clamped_with_a_warning_never_refused() -> None:
    result = parse({AUTO: "true", K + c.RELEASE_STRATEGY: "720h"}, max_release_after=timedelta(days=7))
    assert result.errors == () and result.request is not None
    assert result.request.release_after == "168h0m0s"
    assert result.request.release_ttl == timedelta(days=7)
    [warning] = result.warnings
    assert (warning.reason, warning.key, warning.event_type) == (
        c.EV_RELEASE_STRATEGY_CLAMPED,
        K + c.RELEASE_STRATEGY,
        "Warning",
    )
    assert '"720h"' in warning.message and "168h0m0s" in warning.message
    within = parse({AUTO: "true", K + c.RELEASE_STRATEGY: "168h"}, max_release_after=timedelta(days=7))
    assert within.request is not None and within.request.release_after == "168h" and within.warnings == ()


@pytest.mark.parametrize(
    ("charge", "bandwidth", "ok"),
    [
        ("PayByTraffic", "200", True),
        ("PayByTraffic", "201", False),
        ("PayByBandwidth", "500", True),
        ("PayByBandwidth", "501", False),
        ("PayByBandwidth", "5m", True),
    ],
)
def test_bandwidth_range_depends_on_the_charge_type(charge: str, bandwidth: str, ok: bool) -> None:
    result = parse({AUTO: "true", K + c.EIP_INTERNET_CHARGE_TYPE: charge, K + c.EIP_BANDWIDTH: bandwidth})
    assert (result.request is not None) is ok


def test_bandwidth_is_capped_by_the_operator_setting() -> None:
    result = parse({AUTO: "true", K + c.EIP_BANDWIDTH: "101"}, max_bandwidth=100)
    assert result.request is None and "from 1 to 100" in result.errors[0].message


def test_prepaid_needs_permission_and_pay_by_bandwidth() -> None:
    prepaid = {AUTO: "true", K + c.EIP_INSTANCE_CHARGE_TYPE: "PrePaid", K + c.EIP_BANDWIDTH: "1000"}
    assert parse(prepaid).request is None
    assert parse(prepaid, allow_prepaid=True).errors[0].key == N + c.EIP_INTERNET_CHARGE_TYPE
    pay_by_bandwidth = {**prepaid, K + c.EIP_INTERNET_CHARGE_TYPE: "PayByBandwidth"}
    assert "from 1 to 500" in parse(pay_by_bandwidth, allow_prepaid=True).errors[0].message
    allowed = parse(pay_by_bandwidth, allow_prepaid=True, max_bandwidth=1000)
    assert allowed.request is not None and allowed.request.bandwidth == 1000


@pytest.mark.parametrize(
    "tags",
    [
        '{"aliyun-x":"1"}',
        '{"ACS:x":"1"}',
        '{"podeip-controller.alibabacloud.com/cluster-id":"other"}',
        '{"k":"https://example.com"}',
        '{"k":1}',
        '{"":"v"}',
        '{"' + "k" * 129 + '":"v"}',
        '{"k":"' + "v" * 129 + '"}',
        '["a","b"]',
        "[" * 5000 + "]" * 5000,
        "{" + ",".join(f'"k{i}":"v"' for i in range(16)) + "}",
    ],
)
def test_tags_outside_alibaba_rules_or_our_reserved_prefix_are_errors(tags: str) -> None:
    result = parse({AUTO: "true", K + c.EIP_TAGS: tags})
    assert result.request is None and [e.key for e in result.errors] == [K + c.EIP_TAGS]


def test_fifteen_tags_are_accepted() -> None:
    tags = "{" + ",".join(f'"k{i}":"v"' for i in range(15)) + "}"
    request = parse({AUTO: "true", K + c.EIP_TAGS: tags}).request
    assert request is not None and len(request.tags) == 15


def test_protection_types_are_a_comma_list_with_duplicates_collapsed() -> None:
    request = parse(
        {AUTO: "true", K + c.EIP_SECURITY_PROTECTION_TYPES: "antiddos_enhanced, AntiDDoS_Enhanced,"}
    ).request
    assert request is not None and request.security_protection_types == (
        SecurityProtectionType.ANTI_DDOS_ENHANCED,
    )
    assert parse({AUTO: "true", K + c.EIP_SECURITY_PROTECTION_TYPES: ","}).request is None


def test_name_with_a_line_break_is_refused_and_shown_on_one_line() -> None:
    result = parse({AUTO: "true", K + c.EIP_NAME: "a\nb"})
    assert (
        result.request is None
        and "\n" not in result.errors[0].message
        and "a\\nb" in result.errors[0].message
    )


def test_long_values_are_shortened_in_messages() -> None:
    result = parse({AUTO: "true", K + c.EIP_DESCRIPTION: "x" * 1_000_000})
    assert len(result.errors[0].message) < 400


def test_request_json_is_deterministic_and_parses_back() -> None:
    first = parse({AUTO: "true", K + c.EIP_TAGS: '{"b":"1","a":"2"}', K + c.RELEASE_STRATEGY: "10m"}).request
    second = parse({K + c.RELEASE_STRATEGY: "10m", K + c.EIP_TAGS: '{"a":"2","b":"1"}', AUTO: "true"}).request
    assert first is not None and second is not None
    assert first.canonical_json() == second.canonical_json()
    assert first.canonical_json().index('"a"') < first.canonical_json().index('"b"')
    assert EipRequest.model_validate_json(first.canonical_json()) == first


@pytest.mark.parametrize(
    "fields",
    [
        {"allocation_type": "Static"},
        {"allocation_type": "Static", "allocation_id": "eip-a", "bandwidth": 5},
        {"allocation_type": "Auto", "bandwidth": 5},
        {
            "allocation_type": "Auto",
            "allocation_id": "eip-a",
            "bandwidth": 5,
            "internet_charge_type": "PayByTraffic",
            "instance_charge_type": "PostPaid",
        },
        {"allocation_type": "Static", "allocation_id": "eip-a", "release_strategy": "TTL"},
        {"allocation_type": "Static", "allocation_id": "eip-a", "release_after": "10m"},
    ],
)
def test_request_model_refuses_inconsistent_shapes(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"Static|Auto|TTL"):
        EipRequest.model_validate(fields)


keys = st.sampled_from(
    [key for suffix in c.INPUT_SUFFIXES for key in candidate_keys(suffix)] + [c.ACS_ALLOCATED_EIP_ID]
)


@given(
    st.dictionaries(keys, st.text(max_size=50), max_size=8),
    st.sampled_from([None, "StatefulSet", "ReplicaSet"]),
)
def test_arbitrary_annotations_give_a_result_never_an_exception(
    annotations: dict[str, str], owner: str | None
) -> None:
    result = parse(annotations, owner_kind=owner)
    assert (result.request is None) or not result.errors
    for error in result.errors:
        assert error.key in annotations and error.message.startswith(error.key + "=")
    if result.request is not None:
        assert EipRequest.model_validate_json(result.request.canonical_json()) == result.request
