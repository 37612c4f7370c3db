"""We test these aspects: the CRD file and the pydantic models name exactly the same wire
fields (both ways), with matching required fields and enums; the CRD is a structural
apiextensions.k8s.io/v1 schema with AENC's names and our three additions; PodEIP objects from
the documentation round-trip byte for byte through the models; times are UTC RFC 3339."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from podeip import constants
from podeip.api.podeip import (
    AllocationType,
    AllocationTypeSpec,
    Condition,
    PodEIP,
    PodEIPSpec,
    PodEIPStatus,
    ReleaseStrategy,
)

CRD_PATH = Path(__file__).parents[3] / "crds" / "podeips.alibabacloud.com.yaml"
CRD: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
VERSION = CRD["spec"]["versions"][0]
ROOT = VERSION["schema"]["openAPIV3Schema"]
STATUS = ROOT["properties"]["status"]

#: schema path → the model that must carry exactly its properties
SCHEMA_MODELS: list[tuple[str, dict[str, Any], type[BaseModel]]] = [
    ("root", ROOT, PodEIP),
    ("spec", ROOT["properties"]["spec"], PodEIPSpec),
    ("spec.allocationType", ROOT["properties"]["spec"]["properties"]["allocationType"], AllocationTypeSpec),
    ("status", STATUS, PodEIPStatus),
    ("status.conditions[]", STATUS["properties"]["conditions"]["items"], Condition),
]


def _aliases(model: type[BaseModel]) -> dict[str, str]:
    return {info.alias or name: name for name, info in model.model_fields.items()}


@pytest.mark.parametrize(("path", "schema", "model"), SCHEMA_MODELS, ids=[p for p, _, _ in SCHEMA_MODELS])
def test_every_schema_property_has_a_model_field_and_vice_versa(
    path: str, schema: dict[str, Any], model: type[BaseModel]
) -> None:
    assert set(schema["properties"]) == set(_aliases(model)), path


@pytest.mark.parametrize(("path", "schema", "model"), SCHEMA_MODELS, ids=[p for p, _, _ in SCHEMA_MODELS])
def test_schema_required_fields_are_required_or_defaulted_in_the_model(
    path: str, schema: dict[str, Any], model: type[BaseModel]
) -> None:
    aliases = _aliases(model)
    for wire_name in schema.get("required", []):
        field = model.model_fields[aliases[wire_name]]
        assert field.is_required() or field.default not in (None,), (path, wire_name)


def test_enums_in_the_crd_match_the_model_enums() -> None:
    props = ROOT["properties"]["spec"]["properties"]["allocationType"]["properties"]
    assert props["type"]["enum"] == [t.value for t in AllocationType]
    assert props["type"]["default"] == "Auto"
    assert props["releaseStrategy"]["enum"] == [s.value for s in ReleaseStrategy]


def test_crd_keeps_aenc_names_and_adds_only_columns_shortname_and_conditions() -> None:
    assert CRD["apiVersion"] == "apiextensions.k8s.io/v1"
    assert CRD["metadata"]["name"] == constants.CRD_NAME
    spec = CRD["spec"]
    assert (spec["group"], spec["scope"]) == (constants.GROUP, "Namespaced")
    assert spec["names"] == {
        "kind": "PodEIP",
        "listKind": "PodEIPList",
        "plural": "podeips",
        "singular": "podeip",
        "shortNames": ["peip"],
    }
    assert [v["name"] for v in spec["versions"]] == [constants.VERSION]
    assert VERSION["served"] is True and VERSION["storage"] is True
    assert VERSION["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in VERSION["additionalPrinterColumns"]}
    assert columns == {
        "EIP": ".status.eipAddress",
        "Pod-IP": ".status.privateIPAddress",
        "Status": ".status.status",
        "Type": ".spec.allocationType.type",
        "Strategy": ".spec.allocationType.releaseStrategy",
        "ENI": ".status.networkInterfaceID",
        "AllocationID": ".spec.allocationID",
        "Age": ".metadata.creationTimestamp",
    }
    assert STATUS["properties"]["period"]["type"] == "integer"
    assert STATUS["properties"]["podLastSeen"] == {
        "description": STATUS["properties"]["podLastSeen"]["description"],
        "type": "string",
        "format": "date-time",
    }


def _walk(schema: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    nodes = [(path, schema)]
    for name, child in schema.get("properties", {}).items():
        nodes += _walk(child, f"{path}.{name}")
    if "items" in schema:
        nodes += _walk(schema["items"], f"{path}[]")
    return nodes


def test_schema_is_structural_with_a_type_everywhere_and_no_preserved_unknown_fields() -> None:
    for path, node in _walk(ROOT, "root"):
        assert node.get("type") in {"object", "string", "integer", "array"}, path
        assert "x-kubernetes-preserve-unknown-fields" not in node, path
        assert "additionalProperties" not in node, path


def test_conditions_are_a_map_list_keyed_by_a_required_type() -> None:
    conditions = STATUS["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert "type" in conditions["items"]["required"]
    assert conditions["items"]["properties"]["status"]["enum"] == ["True", "False", "Unknown"]


#: The StatefulSet PodEIP from Alibaba's ACK document on EIPs for pods, with every status field set.
DOC_PODEIP: dict[str, Any] = {
    "apiVersion": "alibabacloud.com/v1beta1",
    "kind": "PodEIP",
    "metadata": {
        "creationTimestamp": "2023-12-15T03:28:01Z",
        "finalizers": ["podeip-controller.alibabacloud.com/finalizer"],
        "generation": 1,
        "name": "example-0",
        "namespace": "default",
        "resourceVersion": "227221",
        "uid": "79954xx-17xx-4dxx-b7xx-15b84xxx",
    },
    "spec": {
        "allocationID": "eip-2ze08metxxx",
        "allocationType": {"releaseAfter": "10m", "releaseStrategy": "TTL", "type": "Auto"},
        "bandwidthPackageID": "cbwp-2zeabc",
    },
    "status": {
        "eipAddress": "39.105.1.2",
        "internetChargeType": "PayByTraffic",
        "isp": "BGP",
        "networkInterfaceID": "eni-2ze4tkg4xxx",
        "podLastSeen": "2023-12-15T05:31:34Z",
        "privateIPAddress": "192.168.1.2",
        "resourceGroupID": "rg-acfmwxxx",
        "publicIpAddressPoolID": "pippool-2ze498cxxx",
        "status": "InUse",
        "name": "default/example-0",
        "bandwidthPackageID": "cbwp-2zeabc",
        "bandwidth": "5",
        "period": 1,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Associated",
                "message": "InUse on 192.168.1.2",
                "lastTransitionTime": "2023-12-15T05:31:34Z",
                "observedGeneration": 1,
            }
        ],
    },
}


def test_documented_podeip_round_trips_with_every_wire_name() -> None:
    podeip = PodEIP.model_validate(DOC_PODEIP)
    assert podeip.spec.allocation_id == "eip-2ze08metxxx"
    assert podeip.spec.allocation_type.release_strategy is ReleaseStrategy.TTL
    assert podeip.status is not None
    assert podeip.status.public_ip_address_pool_id == "pippool-2ze498cxxx"
    assert podeip.status.pod_last_seen == datetime(2023, 12, 15, 5, 31, 34, tzinfo=UTC)
    assert podeip.to_wire() == DOC_PODEIP
    assert PodEIP.model_validate(podeip.to_wire()) == podeip


def test_models_accept_field_names_and_leave_out_unset_fields_on_the_wire() -> None:
    spec = PodEIPSpec(allocation_type=AllocationTypeSpec(release_strategy=ReleaseStrategy.FOLLOW))
    assert spec.to_wire() == {
        "allocationID": "",
        "allocationType": {"type": "Auto", "releaseStrategy": "Follow"},
    }


def test_unknown_fields_of_other_writers_are_ignored_on_read() -> None:
    body = {**DOC_PODEIP, "metadata": {**DOC_PODEIP["metadata"], "managedFields": [{"manager": "x"}]}}
    assert PodEIP.model_validate(body).to_wire() == DOC_PODEIP


def test_times_are_written_in_utc_with_whole_seconds() -> None:
    local = datetime(2024, 1, 2, 8, 4, 5, 999_999, tzinfo=timezone(timedelta(hours=8)))
    status = PodEIPStatus(pod_last_seen=local)
    assert status.to_wire() == {"podLastSeen": "2024-01-02T00:04:05Z"}
    naive = PodEIPStatus(pod_last_seen=datetime(2024, 1, 2, 0, 4, 5))
    assert naive.pod_last_seen == datetime(2024, 1, 2, 0, 4, 5, tzinfo=UTC)


def test_status_finds_a_condition_by_type() -> None:
    status = PodEIP.model_validate(DOC_PODEIP).status
    assert status is not None
    ready = status.condition("Ready")
    assert ready is not None and ready.reason == "Associated"
    assert status.condition("Synced") is None


def test_models_are_frozen() -> None:
    spec = PodEIPSpec(allocation_type=AllocationTypeSpec(release_strategy=ReleaseStrategy.NEVER))
    with pytest.raises(ValueError, match="frozen"):
        spec.allocation_id = "eip-x"  # type: ignore[misc]


def test_instances_given_the_same_fields_share_one_set_of_names_and_copies_keep_their_own() -> None:
    # The view holds thousands of PodEIPs: one set of names per combination, not one each.
    first, second = PodEIP.model_validate(DOC_PODEIP), PodEIP.model_validate(DOC_PODEIP)
    assert first.model_fields_set is second.model_fields_set
    assert first.status is not None and second.status is not None
    assert first.status.model_fields_set is second.status.model_fields_set
    # Another combination has its own; what each reports (and writes) stays its own.
    bare = PodEIPStatus.model_validate({"eipAddress": "203.0.113.5"})
    assert bare.model_fields_set == {"eip_address"}
    assert bare.to_wire() == {"eipAddress": "203.0.113.5"}
    assert first.status.model_fields_set != bare.model_fields_set
    # A copy with changes gets a set of its own; the shared one is left as it was.
    shared = set(first.model_fields_set)
    changed = PodEIPStatus.model_validate({"eipAddress": "203.0.113.5"}).model_copy(update={"isp": "BGP"})
    assert changed.model_fields_set == {"eip_address", "isp"}
    assert bare.model_fields_set == {"eip_address"}
    assert first.model_copy(update={"kind": "PodEIP"}).model_fields_set == shared
    assert first.model_fields_set == shared == second.model_fields_set
