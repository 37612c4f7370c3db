"""We test ``podeip.watch.selectLabeledPods`` (issue 13, item 4) with ``podeip run`` on the local
control plane, the MutatingAdmissionPolicy installed as the chart renders it (``helm template``
with the test bed's helm), and the simulated cloud:

- the policy labels a pod created with an EIP annotation, and not a plain pod nor one annotated
  only after its creation;
- the operator with the setting on binds the labelled pod;
- the documented trade-off: a pod annotated after creation (no label) is not seen, while a pod
  created after it is bound; labelling it, the README's remedy, gets it its EIP;
- safety: a pod whose label is removed (the selecting watch reports it as DELETED) keeps its
  EIP, and the operator says so in its log; its deletion, which no watch delivers any more, is
  still noticed (the collector has it read once a period) and its Follow EIP released.

The binding is narrowed to the test's namespace (``matchResources``): the control plane is
shared by the whole session. Ends with the leak audit.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
import yaml

from chart.chartlib import CHART, KUBE_VERSION
from podeip import constants as c
from podeip.simulator.server import RunningSimulator
from testbed.cluster import ControlPlane, binary, free_port
from testbed.fixtures import Kubectl, wait_for

from .conftest import (
    OperatorProcess,
    apply,
    eip_address_of,
    leak_audit,
    operator_environment,
    ours,
    pod,
    pod_manifest,
    podeip,
    wait_for_address,
)

ASKS = {c.PREFIX_K8S + c.POD_WITH_EIP: "true"}


def rendered_policy(namespace: str) -> list[dict]:  # type: ignore[type-arg]
    """The chart's policy and binding, the binding narrowed to ``namespace``."""
    result = subprocess.run(
        [str(binary("helm")), "template", "podeip", str(CHART), "--namespace", "kube-system",
         "--kube-version", KUBE_VERSION, "--set", "regionID=cn-hangzhou",
         "--set", "podeip.watch.selectLabeledPods=true",
         "--show-only", "templates/mutatingadmissionpolicy.yaml"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    assert [o["kind"] for o in objects] == ["MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"]
    objects[1]["spec"]["matchResources"] = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    }
    return objects


def labelled(kubectl: Kubectl, namespace: str, name: str) -> bool:
    body = pod(kubectl, namespace, name)
    return body is not None and (body["metadata"].get("labels") or {}).get(c.WATCH_LABEL) == "true"


@pytest.fixture
def policy(kubectl: Kubectl, namespace: str) -> Iterator[None]:
    objects = rendered_policy(namespace)
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))

    def active() -> bool:  # the API server loads policies asynchronously: probe with a dry run
        probe = pod_manifest("probe", ASKS, gate=False)
        out = kubectl("-n", namespace, "create", "--dry-run=server", "-o", "json", "-f", "-",
                      input=json.dumps(probe))  # fmt: skip
        return (json.loads(out)["metadata"].get("labels") or {}).get(c.WATCH_LABEL) == "true"

    wait_for(active, timeout=30, what="the MutatingAdmissionPolicy in effect")
    yield
    for obj in reversed(objects):
        kubectl("delete", obj["kind"].lower(), obj["metadata"]["name"], "--ignore-not-found")


@pytest.fixture
def selecting(
    control_plane: ControlPlane,
    podeip_crd: str,
    cloud: RunningSimulator,
    policy: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    port = free_port()
    env = operator_environment(control_plane.kubeconfig, cloud, port)
    env.update(PODEIP_WATCH__SELECT_LABELED_PODS="true")
    handle = OperatorProcess(
        env=env, log_path=tmp_path_factory.mktemp("labelled") / "operator.log", metrics_port=port
    )
    handle.start()
    yield handle
    handle.stop()


def test_only_labelled_pods_are_seen_and_a_lost_label_loses_no_eip(
    selecting: OperatorProcess, cloud: RunningSimulator, kubectl: Kubectl, namespace: str
) -> None:
    engine = cloud.engine
    plain = pod_manifest("plain", {}, gate=False)
    apply(kubectl, namespace, pod_manifest("asks", ASKS), plain, pod_manifest("late", {}, gate=False))
    assert labelled(kubectl, namespace, "asks")
    assert not labelled(kubectl, namespace, "plain") and not labelled(kubectl, namespace, "late")
    wait_for_address(kubectl, namespace, "asks")

    # Annotated after creation: no label, so the operator never hears of it; a pod created
    # afterwards is bound, which shows the operator has gone past the annotation's event.
    kubectl("-n", namespace, "annotate", "pod", "late", f"{c.PREFIX_K8S}{c.POD_WITH_EIP}=true")
    apply(kubectl, namespace, pod_manifest("after", ASKS))
    wait_for_address(kubectl, namespace, "after")
    assert not labelled(kubectl, namespace, "late")
    assert podeip(kubectl, namespace, "late") is None
    assert c.ALLOCATED_EIP_ADDRESS_KEYS[0] not in (pod(kubectl, namespace, "late") or {})["metadata"].get(
        "annotations", {}
    )
    # The README's remedy: label it.
    kubectl("-n", namespace, "label", "pod", "late", f"{c.WATCH_LABEL}=true")
    wait_for_address(kubectl, namespace, "late")

    # A removed label is reported to the watch as a deletion: the EIP stays, the log says why.
    held = podeip(kubectl, namespace, "asks")
    assert held is not None
    allocation_id = held["spec"]["allocationID"]
    kubectl("-n", namespace, "label", "pod", "asks", f"{c.WATCH_LABEL}-")
    wait_for(
        lambda: f"pod {namespace}/asks has a PodEIP but not the label" in selecting.tail(400),
        timeout=30,
        what="the operator's warning about the unlabelled pod",
    )
    (eip,) = [e for e in ours(engine) if e.allocation_id == allocation_id]
    assert eip.status.value == "InUse" and podeip(kubectl, namespace, "asks") is not None
    actions = {call.action for call in engine.mutations(allocation_id=allocation_id)}
    assert not actions & {"UnassociateEipAddress", "ReleaseEipAddress"}, actions
    assert eip_address_of(kubectl, namespace, "asks") == eip.ip_address

    # Its deletion reaches no watch; the collector's periodic read notices it (Follow: released).
    kubectl("-n", namespace, "delete", "pod", "asks", "--wait=true")
    wait_for(
        lambda: podeip(kubectl, namespace, "asks") is None,
        timeout=60,
        what="the unlabelled pod's PodEIP gone",
    )
    wait_for(
        lambda: not [e for e in ours(engine) if e.allocation_id == allocation_id],
        timeout=30,
        what="its Follow EIP released",
    )

    kubectl("-n", namespace, "delete", "pods", "--all", "--wait=true")
    leak_audit(engine, kubectl, namespace)
