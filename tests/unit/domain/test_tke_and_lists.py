"""We test these aspects of TKE's annotations and EIP lists, as the parser reads them:

- ``eip-attributes`` enables Auto, maps ``Bandwidth`` and ``ISP`` (BGP, CMCC, CTCC, CUCC) to
  Alibaba's values, defaults to TKE's 100 Mbit/s (within the charge type's limit), refuses
  other ISPs and malformed JSON with an error naming the key, and warns about other keys;
- ``eip-claim-delete-policy: Never`` is Never on a StatefulSet and Follow (with a Warning) on a
  Deployment; any other value is invalid;
- our prefixes win over TKE's spellings, with a conflict warning; the setting off reads none;
- the TKE-only extended resources and ``networks`` give Warnings whatever the setting;
- EIP lists: ordinal N takes entry N, only for stateful and bare pods; beyond the list there is
  no request; malformed, empty or repeated entries are errors; ``pod-eip-instanceid`` wins.
"""

from __future__ import annotations

from typing import Any

import pytest

from podeip import constants as c
from podeip.api.podeip import AllocationType, ReleaseStrategy
from podeip.domain import pools
from podeip.domain.annotations import parse_pod_annotations
from podeip.domain.parameters import InvalidValue, Isp

ATTRS = c.TKE_EIP_ATTRIBUTES
POLICY = c.TKE_EIP_CLAIM_DELETE_POLICY
N = c.PREFIX_NETWORK


def parse(annotations: dict[str, str], owner_kind: str | None = "StatefulSet", **options: Any) -> Any:
    return parse_pod_annotations(annotations, owner_kind=owner_kind, **options)


def reasons(result: Any) -> list[str]:
    return [w.reason for w in result.warnings]


@pytest.mark.parametrize(
    ("tke_isp", "isp"),
    [("BGP", Isp.BGP), ("CMCC", Isp.CHINA_MOBILE), ("CTCC", Isp.CHINA_TELECOM), ("CUCC", Isp.CHINA_UNICOM)],
)
def test_eip_attributes_enable_auto_and_map_bandwidth_and_isp(tke_isp: str, isp: Isp) -> None:
    result = parse({ATTRS: f'{{"Bandwidth":"50","ISP":"{tke_isp}"}}'})
    assert result.errors == ()
    assert result.request.allocation_type is AllocationType.AUTO
    assert (result.request.bandwidth, result.request.isp) == (50, isp)
    assert result.request.release_strategy is ReleaseStrategy.FOLLOW
    assert c.EV_TKE_ANNOTATIONS_READ in reasons(result)


def test_tke_default_bandwidth_is_100_within_the_charge_types_limit() -> None:
    assert parse({ATTRS: "{}"}).request.bandwidth == 100
    assert parse({ATTRS: '{"Bandwidth": 20}'}).request.bandwidth == 20
    assert parse({ATTRS: "{}"}, max_bandwidth=30).request.bandwidth == 30
    note = next(w for w in parse({ATTRS: "{}"}).warnings if w.reason == c.EV_TKE_ANNOTATIONS_READ)
    assert "TKE's default of 100 Mbit/s" in note.message and "Alibaba's default is 5" in note.message
    # Our own key wins over TKE's default, and over TKE's value (reported).
    assert parse({ATTRS: "{}", N + c.EIP_BANDWIDTH: "7"}).request.bandwidth == 7
    conflict = parse({ATTRS: '{"Bandwidth":"100"}', N + c.EIP_BANDWIDTH: "7"})
    assert conflict.request.bandwidth == 7
    assert c.EV_CONFLICTING_ANNOTATIONS in reasons(conflict)


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ('{"ISP":"CMNET"}', ATTRS + "[ISP]"),
        ('{"ISP":5}', ATTRS + "[ISP]"),
        ('{"Bandwidth":"1000"}', ATTRS + "[Bandwidth]"),
        ('{"Bandwidth":[1]}', ATTRS + "[Bandwidth]"),
        ("not json", ATTRS),
        ('["Bandwidth"]', ATTRS),
    ],
)
def test_bad_eip_attributes_are_errors_naming_the_key(value: str, key: str) -> None:
    result = parse({ATTRS: value})
    assert result.request is None and result.requested
    assert [e.key for e in result.errors] == [key]
    assert result.errors[0].message.startswith(key + "=")


def test_other_eip_attribute_keys_are_named_in_a_warning_and_not_read() -> None:
    result = parse({ATTRS: '{"Bandwidth":"10","InternetChargeType":"X","Foo":1}'})
    assert result.request is not None and result.request.bandwidth == 10
    warning = next(w for w in result.warnings if w.reason == c.EV_ANNOTATION_IGNORED)
    assert warning.event_type == "Warning"
    assert '"Foo"' in warning.message and '"InternetChargeType"' in warning.message


def test_claim_delete_policy_never_applies_to_stateful_pods_only() -> None:
    kept = parse({ATTRS: "{}", POLICY: "Never"})
    assert kept.request.release_strategy is ReleaseStrategy.NEVER
    followed = parse({ATTRS: "{}", POLICY: "Never"}, owner_kind="ReplicaSet")
    assert followed.request.release_strategy is ReleaseStrategy.FOLLOW
    assert c.EV_RELEASE_STRATEGY_IGNORED in reasons(followed)
    note = next(w for w in followed.warnings if w.reason == c.EV_TKE_ANNOTATIONS_READ)
    assert "unlike TKE, Never applies only to StatefulSets" in note.message
    bad = parse({ATTRS: "{}", POLICY: "Always"})
    assert bad.request is None and [e.key for e in bad.errors] == [POLICY]
    # Ours win: a TTL written with our key is kept, TKE's Never is reported as the loser.
    ours = parse({ATTRS: "{}", POLICY: "Never", N + c.RELEASE_STRATEGY: "10m"})
    assert ours.request.release_strategy is ReleaseStrategy.TTL
    assert c.EV_CONFLICTING_ANNOTATIONS in reasons(ours)


def test_the_setting_off_reads_no_tke_key_but_tke_only_things_are_still_named() -> None:
    result = parse(
        {ATTRS: "{}", c.TKE_NETWORKS: "tke-route-eni"},
        tke_annotations=False,
        resources={"cpu", "tke.cloud.tencent.com/eip"},
    )
    assert result.request is None and not result.requested
    tke_only = [w for w in result.warnings if w.reason == c.EV_TKE_ONLY]
    assert [w.key for w in tke_only] == ["tke.cloud.tencent.com/eip", c.TKE_NETWORKS]
    assert all(w.event_type == "Warning" for w in tke_only)
    assert "never be scheduled" in tke_only[0].message and "remove" in tke_only[0].message


def test_our_switch_off_wins_over_tke_attributes() -> None:
    result = parse({ATTRS: "{}", N + c.POD_WITH_EIP: "false"})
    assert result.request is None
    assert c.EV_CONFLICTING_ANNOTATIONS in reasons(result)


# ---- EIP lists -------------------------------------------------------------------------------

LIST = N + c.POD_EIP_INSTANCE_ID_LIST


@pytest.mark.parametrize("key", [LIST, c.PREFIX_K8S + c.POD_EIP_INSTANCE_ID_LIST, c.TKE_EIP_ID_LIST])
@pytest.mark.parametrize(("name", "wanted"), [("web-0", "eip-a"), ("web-2", "eip-c"), ("db-web-1", "eip-b")])
def test_replica_n_gets_entry_n_under_every_spelling(key: str, name: str, wanted: str) -> None:
    result = parse({key: "eip-a, eip-b,eip-c"}, pod_name=name)
    assert result.errors == ()
    assert result.request.allocation_type is AllocationType.STATIC
    assert result.request.allocation_id == wanted
    assert result.eip_list.entries == ("eip-a", "eip-b", "eip-c") and not result.picks_from_list
    assert result.names(wanted) and not result.names("eip-x")


def test_a_replica_beyond_the_list_has_no_request_and_no_error() -> None:
    result = parse({LIST: "eip-a,eip-b"}, pod_name="web-2")
    assert result.request is None and result.requested and result.errors == ()
    assert result.eip_list is not None and result.eip_list.beyond and result.eip_list.wanted is None


@pytest.mark.parametrize(
    ("owner", "name"),
    [("ReplicaSet", "web-7d4b9c-24567"), ("StatefulSet", "web"), ("StatefulSet", "web-01"), (None, "x-y")],
)
def test_pods_without_an_ordinal_pick_from_the_whole_list(owner: str | None, name: str) -> None:
    result = parse({LIST: "eip-a,eip-b"}, owner_kind=owner, pod_name=name)
    assert result.picks_from_list
    assert result.names("eip-a") and result.names("eip-b") and not result.names("eip-c")


def test_a_bare_pod_with_an_ordinal_and_custom_kinds_take_entries_by_ordinal() -> None:
    assert parse({LIST: "eip-a,eip-b"}, owner_kind=None, pod_name="game-1").request.allocation_id == "eip-b"
    custom = parse(
        {LIST: "eip-a,eip-b"},
        owner_kind="GameServerSet",
        custom_stateful_kinds=["GameServerSet"],
        pod_name="game-1",
    )
    assert custom.request.allocation_id == "eip-b"


@pytest.mark.parametrize("value", ["eip-a,,eip-b", "eip-a,eip-a", "eip-a,EIP-B", "eip-a,i-b", ",", "eip-a\n"])
def test_malformed_lists_are_errors(value: str) -> None:
    result = parse({LIST: value}, pod_name="web-0")
    assert result.request is None and result.eip_list is None
    assert [e.key for e in result.errors] == [LIST]
    with pytest.raises(InvalidValue):
        pools.parse_entries(value)


def test_an_instance_id_wins_over_a_list_and_ours_over_tkes() -> None:
    result = parse({LIST: "eip-a", N + c.POD_EIP_INSTANCE_ID: "eip-z"}, pod_name="web-0")
    assert result.request.allocation_id == "eip-z" and result.eip_list is None
    assert c.EV_CONFLICTING_ANNOTATIONS in reasons(result)
    both = parse({LIST: "eip-a", c.TKE_EIP_ID_LIST: "eip-b"}, pod_name="web-0")
    assert both.request.allocation_id == "eip-a"
    assert c.EV_CONFLICTING_ANNOTATIONS in reasons(both)


def test_list_entries_are_static_and_auto_parameters_are_ignored() -> None:
    result = parse({LIST: "eip-a", ATTRS: '{"Bandwidth":"10"}'}, pod_name="web-0")
    assert result.request.allocation_type is AllocationType.STATIC
    assert result.request.bandwidth is None
    assert c.EV_ANNOTATION_IGNORED in reasons(result)
