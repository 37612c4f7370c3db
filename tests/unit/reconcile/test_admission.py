"""We test these aspects of a reconcile pass over a pod that asks for an EIP, on an in-memory
Kubernetes whose cloud is a tripwire (``fakes.py``):

- no annotation value wedges a pod: for any annotations (control characters, NUL, lone
  surrogates, 256 KiB values, deeply nested JSON, blanks) the pass raises nothing, and either
  stores a PodEIP whose frozen request survives the API server's round trip byte for byte, or
  records an ``InvalidAnnotation`` Warning naming each bad key and its value (escaped, short)
  and sets the pod's readiness gate False; every message it writes is printable UTF-8;
- nothing is decided before the pod has a node; no cloud call before it has an IP;
- virtual nodes: skipped unless enabled; when enabled, the ``eci-*`` aliases are not read;
- a TTL above the administrator's maximum is clamped with a Warning and stored clamped;
- ACS's ``allocated-eip-id`` becomes a Static PodEIP with a Normal Event, and the operator
  never writes that key;
- the moment a pod is first seen gone is recorded once, with microseconds, and read back.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podeip import constants as c
from podeip import lint
from podeip.api.podeip import PodEIP
from podeip.api.pods import PodView
from podeip.domain.annotations import candidate_keys, parse_pod_annotations
from podeip.reconcile import records
from podeip.reconcile.plan import QUIET
from podeip.reconcile.queue import Requeue
from podeip.settings import Settings

from .fakes import NOW, World, node_body, pod_body, reconciler

N, K = c.PREFIX_NETWORK, c.PREFIX_K8S
KEY = ("ns", "web-0")
VIRTUAL = {"type": "virtual-kubelet"}


async def run_pass(world: World, settings_: Settings | None = None, **kwargs: Any) -> None:
    with contextlib.suppress(Requeue):
        await reconciler(world, settings_, **kwargs).reconcile(KEY)


def world_with(annotations: dict[str, str], **pod: Any) -> World:
    world = World()
    world.pods[KEY] = pod_body("web-0", annotations, **pod)
    world.nodes["node-a"] = node_body("node-a", {"type": "kwok"})
    world.nodes["virtual-a"] = node_body("virtual-a", VIRTUAL)
    return world


def gate_of(world: World) -> dict[str, Any] | None:
    return world.pod_conditions[-1] if world.pod_conditions else None


def assert_writable(text: str) -> None:
    assert text.isprintable(), text
    text.encode("utf-8")
    assert len(text) <= 2048


# ---- no value wedges a pod ---------------------------------------------------------------------

ALL_KEYS = sorted(
    {key for suffix in c.INPUT_SUFFIXES for key in candidate_keys(suffix)}
    | {c.TKE_EIP_ATTRIBUTES, c.TKE_EIP_CLAIM_DELETE_POLICY, c.TKE_EIP_ID_LIST}
)
ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates, controls, NUL included
NASTY = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.sampled_from(
        [
            "true",
            "false",
            "",
            " ",
            "true\n",
            "1h\n",
            " 10m",
            "720h",
            "\x00",
            "eip-abc",
            "eip-abc\x00",
            '{"a":"\\ud800"}',
            '{"\\udfff":"v"}',
            '{"a":"\\u0000"}',
            '{"team":"games"}',
            "[" * 20_000 + "]" * 20_000,
            '{"a":' * 10_000,
            "x" * 262_144,
            "1s" * 131_072,
            "5M",
            "PayByBandwidth",
            "AntiDDoS_Enhanced," * 100,
            '{"Bandwidth":"100","ISP":"CMCC"}',
            '{"Bandwidth":100,"ISP":"cucc","Other":1}',
            "eip-abc,eip-abd",
            "eip-abc,,eip-abd",
            "Never",
        ]
    ),
    st.builds(lambda t: json.dumps({"k": t}, ensure_ascii=True), st.text(ANY_CHAR, max_size=10)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    annotations=st.dictionaries(st.sampled_from(ALL_KEYS), NASTY, max_size=6),
    owner=st.sampled_from([None, "StatefulSet", "ReplicaSet"]),
    maximum=st.sampled_from([None, timedelta(hours=1)]),
)
async def test_any_annotations_become_a_stored_podeip_or_an_invalid_annotation_event(
    annotations: dict[str, str], owner: str | None, maximum: timedelta | None
) -> None:
    world = world_with(annotations, owner=owner)
    config = Settings(cloud={"provider": "simulated"}, max_release_after=maximum)
    await run_pass(world, config)
    parsed = parse_pod_annotations(
        PodView.from_body(world.pods[KEY]).annotations,
        owner_kind=owner,
        max_release_after=maximum,
        pod_name=KEY[1],
    )
    for event in world.events:
        assert_writable(event.message)
    for condition in world.pod_conditions:
        assert_writable(condition["message"])
    stored = world.podeips.get(KEY)
    if parsed.request is not None:
        assert stored is not None, "a valid request must be stored"
        podeip = PodEIP.model_validate(stored)
        assert podeip.annotations[c.ANN_REQUEST] == parsed.request.canonical_json()
        assert records.frozen_request(podeip) == parsed.request
        assert podeip.spec.allocation_type.release_after == parsed.request.release_after
        json.dumps(stored, ensure_ascii=False).encode("utf-8")
        return
    assert stored is None
    if parsed.requested and parsed.eip_list is not None and not parsed.errors:
        # An EIP list without an entry for this pod: it waits, with a Warning and a False gate.
        assert any(e.reason == c.EV_EIP_LIST_EXHAUSTED and e.type == "Warning" for e in world.events)
        gate = gate_of(world)
        assert gate is not None and (gate["status"], gate["reason"]) == ("False", c.EV_EIP_LIST_EXHAUSTED)
        return
    if parsed.requested:
        invalid = [e for e in world.events if e.reason == c.EV_INVALID_ANNOTATION]
        assert invalid and all(e.type == "Warning" for e in invalid)
        for error in parsed.errors:
            assert any(error.key in e.message for e in invalid), error
        gate = gate_of(world)
        assert gate is not None and gate["status"] == "False" and gate["reason"] == c.EV_INVALID_ANNOTATION


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        (K + c.EIP_TAGS, '{"a":"\\ud800"}', '"{\\"a\\":\\"\\\\ud800\\"}"'),
        (K + c.EIP_TAGS, '{"a":"\\u0000"}', "\\\\u0000"),
        (K + c.EIP_TAGS, "[" * 100_000, '"[[[['),
        (K + c.EIP_NAME, "a\x00b", '"a\\x00b"'),
        (K + c.EIP_DESCRIPTION, "\ud800", '"\\ud800"'),
        (K + c.EIP_DESCRIPTION, "d" * 262_144, '"ddd'),
        (N + c.RELEASE_STRATEGY, "1h\n", '"1h\\n"'),
        (N + c.EIP_ISP, "BGP ", '"BGP "'),
    ],
)
async def test_the_named_bad_values_give_an_event_and_a_false_gate(key: str, value: str, shown: str) -> None:
    world = world_with({N + c.POD_WITH_EIP: "true", key: value})
    await run_pass(world)
    assert KEY not in world.podeips
    [event] = [e for e in world.events if e.reason == c.EV_INVALID_ANNOTATION]
    assert event.type == "Warning" and key in event.message and shown in event.message
    assert_writable(event.message)
    gate = gate_of(world)
    assert gate is not None and (gate["status"], gate["reason"]) == ("False", c.EV_INVALID_ANNOTATION)


# ---- the pod's node and IP ---------------------------------------------------------------------


async def test_nothing_is_decided_before_the_pod_has_a_node() -> None:
    world = world_with({N + c.POD_WITH_EIP: "true"}, node=None)
    await run_pass(world)
    assert world.podeips == {} and world.events == [] and world.pod_conditions == []


async def test_a_scheduled_pod_without_an_ip_gets_its_podeip_and_no_cloud_call() -> None:
    world = world_with({N + c.POD_WITH_EIP: "true"}, node="node-a", pod_ip=None)
    await run_pass(world)  # the cloud is a tripwire: any call fails the test
    podeip = PodEIP.model_validate(world.podeips[KEY])
    assert podeip.spec.allocation_id == ""
    assert podeip.status is None and world.pod_conditions == []  # a moment's wait is not shown
    # Still no IP QUIET seconds after the PodEIP was created: the wait is shown.
    created = podeip.metadata.creation_timestamp
    assert created is not None
    old = created - timedelta(seconds=QUIET)
    world.podeips[KEY]["metadata"]["creationTimestamp"] = old.strftime("%Y-%m-%dT%H:%M:%SZ")
    await run_pass(world)
    podeip = PodEIP.model_validate(world.podeips[KEY])
    ready = podeip.status.condition(c.COND_READY) if podeip.status else None
    assert ready is not None and ready.reason == "WaitingForPodIP"


async def test_pods_on_virtual_nodes_are_skipped_unless_enabled() -> None:
    world = world_with({N + c.POD_WITH_EIP: "true"}, node="virtual-a")
    await run_pass(world)
    assert world.podeips == {}
    assert [e.reason for e in world.events] == [c.EV_POD_SKIPPED]
    enabled = world_with({N + c.POD_WITH_EIP: "true"}, node="virtual-a")
    await run_pass(enabled, Settings(cloud={"provider": "simulated"}, enable_virtual_node=True))
    assert KEY in enabled.podeips


@pytest.mark.parametrize(
    ("annotations", "served"),
    [
        ({K + "eci-with-eip": "true"}, False),
        ({K + "eci-eip-instanceid": "eip-abc"}, False),
        ({N + c.POD_WITH_EIP: "true", K + "eci-with-eip": "true"}, True),
    ],
)
async def test_eci_aliases_are_left_to_eci_on_virtual_nodes_when_enabled(
    annotations: dict[str, str], served: bool
) -> None:
    enabled = Settings(cloud={"provider": "simulated"}, enable_virtual_node=True)
    on_virtual = world_with(annotations, node="virtual-a")
    await run_pass(on_virtual, enabled)
    assert (KEY in on_virtual.podeips) is served
    on_ecs = world_with(annotations, node="node-a")
    await run_pass(on_ecs, enabled)
    assert KEY in on_ecs.podeips  # on an ordinary node the aliases count


# ---- TTL maximum, ACS key --------------------------------------------------------------------------


async def test_a_ttl_above_the_maximum_is_stored_clamped_with_a_warning() -> None:
    world = world_with({N + c.POD_WITH_EIP: "true", N + c.RELEASE_STRATEGY: "720h"})
    await run_pass(world, Settings(cloud={"provider": "simulated"}, max_release_after="168h"))
    spec = world.podeips[KEY]["spec"]["allocationType"]
    assert spec == {"type": "Auto", "releaseStrategy": "TTL", "releaseAfter": "168h0m0s"}
    [warning] = [e for e in world.events if e.reason == c.EV_RELEASE_STRATEGY_CLAMPED]
    assert warning.type == "Warning" and '"720h"' in warning.message
    unlimited = world_with({N + c.POD_WITH_EIP: "true", N + c.RELEASE_STRATEGY: "720h"})
    await run_pass(unlimited)
    assert unlimited.podeips[KEY]["spec"]["allocationType"]["releaseAfter"] == "720h"


async def test_acs_allocated_eip_id_becomes_a_static_podeip_and_is_never_written() -> None:
    world = world_with({c.ACS_ALLOCATED_EIP_ID: "eip-acs01"})
    await run_pass(world)
    spec = world.podeips[KEY]["spec"]
    assert spec["allocationID"] == "eip-acs01" and spec["allocationType"]["type"] == "Static"
    [note] = [e for e in world.events if e.reason == c.EV_EXISTING_EIP_REQUESTED]
    assert note.type == "Normal" and c.ACS_ALLOCATED_EIP_ID in note.message
    assert all(c.ACS_ALLOCATED_EIP_ID not in written for written in world.pod_annotations)


# ---- the moment the pod is first seen gone ------------------------------------------------------


def test_gone_since_is_recorded_with_microseconds_and_read_back() -> None:
    moment = NOW + timedelta(microseconds=123_456)
    text = records.format_gone_since(moment)
    assert text.endswith(".123456+00:00")
    podeip = PodEIP.model_validate(
        {
            "metadata": {"annotations": {c.ANN_POD_GONE_SINCE: text}},
            "spec": {"allocationType": {"releaseStrategy": "TTL"}},
        }
    )
    assert records.gone_since_of(podeip) == moment
    garbled = podeip.model_copy(
        update={
            "metadata": podeip.metadata.model_copy(update={"annotations": {c.ANN_POD_GONE_SINCE: "soon"}})
        }
    )
    assert records.gone_since_of(garbled) is None


# ---- podeip lint agrees with the operator ------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    annotations=st.dictionaries(st.sampled_from(ALL_KEYS), NASTY, max_size=6),
    kind=st.sampled_from(["Pod", "StatefulSet", "Deployment"]),
    virtual=st.booleans(),
)
def test_lint_reads_every_value_as_the_operator_does(
    annotations: dict[str, str], kind: str, virtual: bool
) -> None:
    """Same parser, same defaults: lint's result for a template is the operator's for its pod."""
    parser = argparse.ArgumentParser()
    lint.add_arguments(parser)
    args = parser.parse_args(["x.yaml", *(["--virtual-node"] if virtual else [])])
    owner = None if kind == "Pod" else kind
    template = lint.Template("x.yaml:1", kind, "web", owner, annotations)
    from_lint, bad = lint._check(
        template,
        [],
        max_release_after=None,
        max_bandwidth=args.max_bandwidth,
        allow_prepaid=args.allow_prepaid,
        eci_aliases=not args.virtual_node,
    )
    world = world_with(annotations, owner=owner, node="virtual-a" if virtual else "node-a")
    operator = reconciler(world, Settings(cloud={"provider": "simulated"}, enable_virtual_node=virtual))
    operator.memory.virtual_nodes["virtual-a"] = True
    from_operator = operator._parse(PodView.from_body(world.pods[KEY]))
    assert bad == []
    if from_operator.eip_list is None:
        # With errors the operator drops a parsed EIP list (nothing is allocated), while lint
        # still says how a template's replicas would take it: that note is the only difference.
        notes = [w for w in from_lint.warnings if w not in from_operator.warnings]
        if from_operator.errors:
            assert [w.reason for w in notes] in ([], [c.EV_EXISTING_EIP_REQUESTED])
            from_lint = dataclasses.replace(
                from_lint, warnings=tuple(w for w in from_lint.warnings if w not in notes)
            )
        assert from_lint == from_operator
        return
    # An EIP list: a template has no pod name, so no ordinal; lint says how replicas take the
    # entries, and otherwise reads every value the same way.
    assert from_lint.eip_list is not None and from_lint.eip_list.entries == from_operator.eip_list.entries
    assert from_lint.errors == from_operator.errors
    template_notes = [w for w in from_lint.warnings if w not in from_operator.warnings]
    assert [w.reason for w in template_notes] == [c.EV_EXISTING_EIP_REQUESTED]
    if from_operator.request is not None and from_lint.request is not None:
        wanted = from_operator.request.allocation_id
        assert from_lint.request.model_copy(update={"allocation_id": wanted}) == from_operator.request
