"""We test these aspects of Events on a real API server: an Event on a pod and one on a PodEIP
are accepted with their involvedObject, reason, type and reporting fields; repeats are
aggregated into one Event whose count the server stores; a failure (a namespace that does not
exist) is logged and does not raise."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from podeip import constants
from podeip.k8s.client import KubeClient
from podeip.k8s.events import EventRecorder, ObjectRef
from podeip.k8s.podeips import PodEIPs
from podeip.k8s.pods import pod_path


async def events_in(kube: KubeClient, namespace: str) -> list[dict[str, Any]]:
    return await kube.list(f"/api/v1/namespaces/{namespace}/events")


async def test_events_on_pods_and_podeips_are_recorded_and_aggregated(
    kube: KubeClient, namespace: str
) -> None:
    pod = await kube.create(
        pod_path(namespace),
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-0"},
            "spec": {
                "nodeSelector": {"podeip.test/nowhere": "true"},
                "containers": [{"name": "a", "image": "x.invalid/a"}],
            },
        },
    )
    recorder = EventRecorder(kube, instance="test-instance")
    ref = ObjectRef.from_body(pod)
    for _ in range(3):
        await recorder.warning(ref, reason=constants.EV_QUOTA_EXCEEDED, message="EIP quota exhausted")
    await recorder.normal(ref, reason=constants.EV_ASSOCIATED, message="eip-1 on 198.51.100.7")

    recorded = [
        e for e in await events_in(kube, namespace) if e.get("reportingComponent") == "podeip-operator"
    ]
    # One Event per distinct occurrence: the three quota warnings were aggregated.
    assert sorted(e["reason"] for e in recorded) == sorted(
        [constants.EV_QUOTA_EXCEEDED, constants.EV_ASSOCIATED]
    )
    ours = {e["reason"]: e for e in recorded}
    quota = ours[constants.EV_QUOTA_EXCEEDED]
    assert quota["count"] == 3
    assert quota["type"] == "Warning"
    assert quota["involvedObject"]["uid"] == pod["metadata"]["uid"]
    assert quota["involvedObject"]["kind"] == "Pod"
    assert quota["source"]["component"] == "podeip-operator"
    assert quota["reportingInstance"] == "test-instance"
    assert ours[constants.EV_ASSOCIATED]["count"] == 1


@pytest.mark.usefixtures("podeip_crd")
async def test_an_event_on_a_podeip_names_the_custom_resource(kube: KubeClient, namespace: str) -> None:
    created = await PodEIPs(kube).create(
        {
            "metadata": {"name": "web-0", "namespace": namespace},
            "spec": {"allocationID": "", "allocationType": {"type": "Auto", "releaseStrategy": "Follow"}},
        }
    )
    await EventRecorder(kube, instance="i").normal(
        ObjectRef.from_body(created), reason=constants.EV_ALLOCATED, message="eip-1"
    )
    (event,) = [e for e in await events_in(kube, namespace) if e["reason"] == constants.EV_ALLOCATED]
    assert event["involvedObject"]["apiVersion"] == "alibabacloud.com/v1beta1"
    assert event["involvedObject"]["kind"] == "PodEIP"
    assert event["involvedObject"]["name"] == "web-0"


async def test_a_failed_event_is_logged_not_raised(
    kube: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    ref = ObjectRef(api_version="v1", kind="Pod", namespace="no-such-namespace-x", name="p", uid="u")
    with caplog.at_level(logging.WARNING, logger="podeip.k8s.events"):
        await EventRecorder(kube, instance="i").normal(ref, reason=constants.EV_ASSOCIATED, message="m")
    assert "could not record Event EipAssociated on Pod no-such-namespace-x/p" in caplog.text
