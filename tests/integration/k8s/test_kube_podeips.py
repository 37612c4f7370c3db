"""We test these aspects of PodEIP access on a real API server with our CRD: create keeps the
finalizer from the body and the exact wire names; get and list (one namespace, all namespaces)
read from the server; a metadata/spec merge patch with the current resourceVersion applies and
with a stale one is a Conflict that changes nothing; status patches go through the subresource
and cannot change spec; the finalizer is removed only at the current resourceVersion, after
which a deleted object disappears; a failed JSON-patch test is reported by the server as 422
(which remove_finalizer turns into Conflict); a delete with another UID is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from podeip import constants
from podeip.k8s.client import KubeClient
from podeip.k8s.errors import Conflict, Invalid, NotFound
from podeip.k8s.podeips import PodEIPs, podeip_path
from podeip.observability.metrics import Metrics

pytestmark = pytest.mark.usefixtures("podeip_crd", "release_leftovers")


@pytest.fixture
async def release_leftovers(kube: KubeClient, namespace: str) -> AsyncIterator[None]:
    """No operator runs here: drop finalizers afterwards so the namespace can go away."""
    yield
    for item in await PodEIPs(kube).list(namespace):
        path = podeip_path(namespace, item["metadata"]["name"])
        await kube.patch(path, {"metadata": {"finalizers": None}}, patch_type="merge")


def podeip_body(namespace: str, name: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "finalizers": [constants.FINALIZER],
            "annotations": {constants.CONTROLLER_MARKER_KEY: constants.CONTROLLER_MARKER_VALUE},
        },
        "spec": {
            "allocationID": "",
            "allocationType": {"type": "Auto", "releaseStrategy": "TTL", "releaseAfter": "5m"},
        },
    }


async def test_create_get_and_list_round_trip(kube: KubeClient, namespace: str) -> None:
    podeips = PodEIPs(kube)
    created = await podeips.create(podeip_body(namespace, "web-0"))
    assert created["metadata"]["finalizers"] == [constants.FINALIZER]
    assert created["spec"]["allocationType"] == {
        "type": "Auto",
        "releaseStrategy": "TTL",
        "releaseAfter": "5m",
    }

    fetched = await podeips.get(namespace, "web-0")
    assert fetched["metadata"]["uid"] == created["metadata"]["uid"]
    await podeips.create(podeip_body(namespace, "web-1"))
    listed = await podeips.list(namespace)
    assert sorted(item["metadata"]["name"] for item in listed) == ["web-0", "web-1"]
    assert {item["kind"] for item in listed} == {"PodEIP"}
    everywhere = await podeips.list()
    assert {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere} >= {
        (namespace, "web-0"),
        (namespace, "web-1"),
    }


async def test_spec_patches_are_locked_by_resource_version(kube: KubeClient, namespace: str) -> None:
    podeips = PodEIPs(kube)
    created = await podeips.create(podeip_body(namespace, "web-0"))
    stale = created["metadata"]["resourceVersion"]
    patched = await podeips.patch_metadata_and_spec(
        namespace,
        "web-0",
        {
            "metadata": {"annotations": {constants.ANN_CLIENT_TOKEN: "tok-1"}},
            "spec": {"allocationID": "eip-aaa"},
        },
        resource_version=stale,
    )
    assert patched["spec"]["allocationID"] == "eip-aaa"
    assert patched["metadata"]["annotations"][constants.ANN_CLIENT_TOKEN] == "tok-1"

    with pytest.raises(Conflict):
        await podeips.patch_metadata_and_spec(
            namespace, "web-0", {"spec": {"allocationID": "eip-bbb"}}, resource_version=stale
        )
    assert (await podeips.get(namespace, "web-0"))["spec"]["allocationID"] == "eip-aaa"


async def test_status_goes_through_the_subresource_only(kube: KubeClient, namespace: str) -> None:
    podeips = PodEIPs(kube)
    await podeips.create(podeip_body(namespace, "web-0"))
    await podeips.patch_status(namespace, "web-0", {"eipAddress": "203.0.113.7", "status": "InUse"})
    # A spec change smuggled into a status patch is ignored by the subresource.
    await kube.patch(
        f"{podeip_path(namespace, 'web-0')}/status",
        {"spec": {"allocationID": "eip-smuggled"}, "status": {"isp": "BGP"}},
        patch_type="merge",
    )
    stored = await podeips.get(namespace, "web-0")
    assert stored["status"] == {"eipAddress": "203.0.113.7", "status": "InUse", "isp": "BGP"}
    assert stored["spec"]["allocationID"] == ""

    await podeips.patch_status(namespace, "web-0", {"isp": None})
    assert "isp" not in (await podeips.get(namespace, "web-0"))["status"]


async def test_the_finalizer_is_removed_only_at_the_current_resource_version(
    kube: KubeClient, namespace: str
) -> None:
    podeips = PodEIPs(kube)
    body = podeip_body(namespace, "web-0")
    body["metadata"]["finalizers"] = ["example.com/other", constants.FINALIZER]
    created = await podeips.create(body)
    await podeips.delete(namespace, "web-0")
    deleting = await podeips.get(namespace, "web-0")
    assert deleting["metadata"]["deletionTimestamp"]

    with pytest.raises(Conflict):
        await podeips.remove_finalizer(
            namespace, "web-0", constants.FINALIZER, resource_version=created["metadata"]["resourceVersion"]
        )
    current = deleting["metadata"]["resourceVersion"]
    remaining = await podeips.remove_finalizer(
        namespace, "web-0", constants.FINALIZER, resource_version=current
    )
    assert remaining["metadata"]["finalizers"] == ["example.com/other"]
    # Removing an absent finalizer is a no-op that returns the object.
    again = await podeips.remove_finalizer(
        namespace, "web-0", constants.FINALIZER, resource_version=remaining["metadata"]["resourceVersion"]
    )
    assert again["metadata"]["finalizers"] == ["example.com/other"]

    last = await podeips.remove_finalizer(
        namespace, "web-0", "example.com/other", resource_version=again["metadata"]["resourceVersion"]
    )
    assert last["metadata"].get("finalizers") in (None, [])
    with pytest.raises(NotFound):
        await podeips.get(namespace, "web-0")


async def test_a_failed_json_patch_test_is_a_422(kube: KubeClient, namespace: str) -> None:
    await PodEIPs(kube).create(podeip_body(namespace, "web-0"))
    operations = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]
    with pytest.raises(Invalid):
        await kube.patch(podeip_path(namespace, "web-0"), operations, patch_type="json")


async def test_delete_with_another_uid_is_refused(kube: KubeClient, namespace: str) -> None:
    podeips = PodEIPs(kube)
    created = await podeips.create(podeip_body(namespace, "web-0"))
    with pytest.raises(Conflict):
        await podeips.delete(namespace, "web-0", uid="00000000-0000-0000-0000-000000000000")
    assert "deletionTimestamp" not in (await podeips.get(namespace, "web-0"))["metadata"]
    await podeips.delete(namespace, "web-0", uid=created["metadata"]["uid"])
    assert (await podeips.get(namespace, "web-0"))["metadata"]["deletionTimestamp"]
    with pytest.raises(NotFound):
        await podeips.delete(namespace, "absent")


async def test_with_the_finalizers_known_the_removal_reads_nothing_and_is_still_guarded(
    kube: KubeClient, namespace: str, metrics: Metrics
) -> None:
    """The view knows the finalizers at a resourceVersion: no GET, and the JSON patch still tests
    the resourceVersion, so a stale one is a Conflict that changes nothing."""
    podeips = PodEIPs(kube)
    body = podeip_body(namespace, "web-0")
    body["metadata"]["finalizers"] = ["example.com/other", constants.FINALIZER]
    created = await podeips.create(body)
    deleting = await podeips.delete(namespace, "web-0")
    known = tuple(deleting["metadata"]["finalizers"])
    with pytest.raises(Conflict):
        await podeips.remove_finalizer(
            namespace, "web-0", constants.FINALIZER,
            resource_version=created["metadata"]["resourceVersion"], finalizers=known,
        )  # fmt: skip
    assert (await podeips.get(namespace, "web-0"))["metadata"]["finalizers"] == list(known)
    reads = kube_reads(metrics)
    remaining = await podeips.remove_finalizer(
        namespace, "web-0", constants.FINALIZER,
        resource_version=deleting["metadata"]["resourceVersion"], finalizers=known,
    )  # fmt: skip
    assert remaining["metadata"]["finalizers"] == ["example.com/other"]
    assert kube_reads(metrics) == reads, "the removal read the PodEIP"
    await podeips.remove_finalizer(
        namespace, "web-0", "example.com/other", resource_version=remaining["metadata"]["resourceVersion"]
    )


def kube_reads(metrics: Metrics) -> float:
    labels = {"verb": "get", "resource": "podeips", "code": "200"}
    return metrics.registry.get_sample_value("podeip_kube_api_requests_total", labels) or 0.0
