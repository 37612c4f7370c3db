"""We test these aspects of the PodEIP CRD on the real API server:

- unknown fields are refused by strict validation and pruned without it; enums are enforced;

- a PodEIP with every spec and status field (AENC's names, plus our conditions) is stored and
  read back unchanged: nothing the operator writes is pruned;
- our pydantic model reads the stored object and writes back the same wire names;
- ``kubectl get podeip`` (and the short name ``peip``) shows the printer columns, with the
  ENI and allocation ID in the wide view.
"""

from __future__ import annotations

import json

from podeip.api.podeip import PodEIP
from testbed.fixtures import Kubectl, get_json

FULL = {
    "apiVersion": "alibabacloud.com/v1beta1",
    "kind": "PodEIP",
    "metadata": {"name": "every-field"},
    "spec": {
        "allocationID": "eip-2ze08metabcdef",
        "bandwidthPackageID": "cbwp-2zeabcdef",
        "allocationType": {"type": "Auto", "releaseStrategy": "TTL", "releaseAfter": "5m30s"},
    },
}
STATUS = {
    "networkInterfaceID": "eni-2ze4tkg4abc",
    "privateIPAddress": "198.51.100.10",
    "eipAddress": "203.0.113.10",
    "isp": "BGP",
    "internetChargeType": "PayByTraffic",
    "resourceGroupID": "rg-acfmwabc",
    "name": "ns/every-field",
    "publicIpAddressPoolID": "pippool-2zeabc",
    "status": "InUse",
    "bandwidthPackageID": "cbwp-2zeabcdef",
    "bandwidth": "5",
    "period": 0,
    "podLastSeen": "2026-11-23T05:31:34Z",
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Associated",
            "message": "bound",
            "lastTransitionTime": "2026-11-23T05:31:30Z",
            "observedGeneration": 1,
        },
    ],
}


def test_every_field_round_trips_through_the_api_server(
    kubectl: Kubectl, podeip_crd: str, namespace: str
) -> None:
    kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(FULL))
    patch = json.dumps({"status": STATUS})
    kubectl(
        "-n", namespace, "patch", "podeip", "every-field", "--subresource=status", "--type=merge", "-p", patch
    )
    stored = get_json(kubectl, "-n", namespace, "podeip", "every-field")
    assert stored["spec"] == FULL["spec"]
    assert stored["status"] == STATUS
    model = PodEIP.model_validate(stored)
    assert model.spec.allocation_id == "eip-2ze08metabcdef"
    assert model.status is not None and model.status.public_ip_address_pool_id == "pippool-2zeabc"
    wire = model.to_wire()
    assert wire["spec"] == FULL["spec"]
    assert wire["status"] == STATUS


def test_unknown_fields_are_pruned_and_enums_enforced(
    kubectl: Kubectl, podeip_crd: str, namespace: str
) -> None:
    body = json.loads(json.dumps(FULL))
    body["metadata"]["name"] = "pruned"
    body["spec"]["surprise"] = "gone"
    strict = kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(body), check=False)
    assert 'unknown field "spec.surprise"' in strict
    kubectl("-n", namespace, "apply", "--validate=false", "-f", "-", input=json.dumps(body))
    assert "surprise" not in get_json(kubectl, "-n", namespace, "podeip", "pruned")["spec"]
    body["metadata"]["name"] = "bad-strategy"
    del body["spec"]["surprise"]
    body["spec"]["allocationType"]["releaseStrategy"] = "Sometimes"
    refused = kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(body), check=False)
    assert "Unsupported value" in refused and "Sometimes" in refused


def test_kubectl_shows_the_printer_columns(kubectl: Kubectl, podeip_crd: str, namespace: str) -> None:
    body = json.loads(json.dumps(FULL))
    body["metadata"]["name"] = "columns"
    kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(body))
    kubectl(
        "-n",
        namespace,
        "patch",
        "podeip",
        "columns",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": STATUS}),
    )
    header, row = kubectl("-n", namespace, "get", "peip", "columns").strip().splitlines()
    assert header.split() == ["NAME", "EIP", "POD-IP", "STATUS", "TYPE", "STRATEGY", "AGE"]
    assert row.split()[:6] == ["columns", "203.0.113.10", "198.51.100.10", "InUse", "Auto", "TTL"]
    wide_header, wide_row = (
        kubectl("-n", namespace, "get", "podeip", "columns", "-o", "wide").strip().splitlines()
    )
    assert "ENI" in wide_header.split() and "ALLOCATIONID" in wide_header.split()
    assert "eni-2ze4tkg4abc" in wide_row.split() and "eip-2ze08metabcdef" in wide_row.split()
