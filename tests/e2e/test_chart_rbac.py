"""We test these aspects of the Helm chart with the real operator on the local control plane:

- the chart lints strictly with Alibaba's AENC sample values, and helm installs it with them:
  the PodEIP CRD (and no kopf peering), the ValidatingAdmissionPolicy, and
  a Deployment whose pod kwok fakes on a fake node;
- the chart's ServiceAccount may do what the operator needs (pods and pods/status patches,
  claim Leases in the release namespace only, the leader Lease, the kube-system UID, Events) and
  nothing it must not (Secrets, creating or deleting pods, Leases elsewhere, other
  ConfigMaps, RBAC objects);
- ``podeip run`` with the release's environment and a kubeconfig holding only a token of that
  ServiceAccount leads by the Lease ``<pod>_<uid>`` and binds EIPs through the official SDK and the
  HTTP simulator: the seed documents' Deployment (readiness gate) gets an EIP on every pod, a
  static EIP is claimed by a Lease in the release namespace and associated; deleting the
  workloads releases the Auto EIPs and only unassociates the static one (leak audit);
- the PodEIP admission policy: a user (even a cluster admin) may not create PodEIPs, change
  spec.allocationID / allocationType once set, or write their status, but may label and
  delete them; the operator's ServiceAccount and the allowed migration identities (a
  username, a group) may;
- no request of the operator was denied by RBAC or by the chart's admission policy, and the
  calls the RBAC exists for (Lease create/delete, pod and pods/status patches, Events,
  PodEIP writes, the kube-system namespace, the PodEIP CRD, nodes) did succeed; helm uninstall
  leaves no cluster-wide grant or policy behind.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from integration.operator.conftest import (
    OperatorProcess,
    apply,
    eip_address_of,
    pod_manifest,
    podeip,
    workload,
)
from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.k8s.leadership import LEASE_NAME
from podeip.k8s.leases import CLAIM_LABEL
from podeip.simulator.server import RunningSimulator
from testbed.cluster import ControlPlane, binary
from testbed.fixtures import Kubectl, get_json, wait_for

from .conftest import (
    AENC_VALUES,
    CHART,
    HELM_SETS,
    KUBE_VERSION,
    MIGRATOR,
    MIGRATOR_GROUP,
    OPERATOR_POD,
    OPERATOR_POD_UID,
    Release,
    kube_requests,
    run_helm,
)

K8S = c.PREFIX_K8S
#: What a refused request leaves in the operator's log: kopf's and our client's errors for
#: 403 ("Forbidden", or the status code after "status"/"code"; a bare 403 would also match the
#: milliseconds of a timestamp), and the API server's wording for an admission policy denial.
DENIAL = re.compile(
    r"forbidden|(status|code)\W{1,3}403\b|denied request|ValidatingAdmissionPolicy", re.IGNORECASE
)


def denials(operator: OperatorProcess) -> list[str]:
    """Lines of the operator's log that tell of a refused request."""
    log = operator.log_path.read_text(errors="replace")
    return [brief(line) for line in log.splitlines() if DENIAL.search(line)]


def brief(line: str) -> str:
    """A JSON log line as its message and the last line of its exception (the API's reason)."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    exception = (record.get("exception") or "").strip().splitlines()
    return " | ".join([record.get("message", ""), *exception[-1:]])


def unrefused(operator: OperatorProcess, predicate: Callable[[], object]) -> Callable[[], object]:
    """``predicate`` for ``wait_for`` that fails at once, with the reason, on a refused request
    (a denied operator retries forever: waiting out the timeout would only hide why)."""

    def check() -> object:
        refused = denials(operator)
        assert refused == [], "the operator was refused:\n" + "\n".join(refused[:5])
        return predicate()

    return check


def can_i(kubectl: Kubectl, release: Release, *args: str) -> bool:
    """``kubectl auth can-i`` as the chart's ServiceAccount."""
    answer = kubectl("auth", "can-i", *args, f"--as={release.user}", check=False).split()
    assert answer and answer[0] in ("yes", "no"), answer
    return answer[0] == "yes"


def test_chart_lints_strictly_with_the_aenc_sample_values(helm: Path, helm_env: dict[str, str]) -> None:
    sets = [arg for value in HELM_SETS for arg in ("--set", value)]
    output = run_helm(
        helm, helm_env, "lint", "--strict", "--kube-version", KUBE_VERSION, str(CHART),
        "-f", str(AENC_VALUES), *sets,
    )  # fmt: skip
    assert "1 chart(s) linted, 0 chart(s) failed" in output
    assert "[ERROR]" not in output and "[WARNING]" not in output


def test_release_installs_the_crd_admission_policy_and_a_faked_operator_pod(
    kubectl: Kubectl, release: Release
) -> None:
    crd = "podeips.alibabacloud.com"
    conditions = {x["type"]: x["status"] for x in get_json(kubectl, "crd", crd)["status"]["conditions"]}
    assert conditions["Established"] == "True", crd
    assert "clusterkopfpeerings.kopf.dev" not in kubectl("get", "crd", "-o", "name")
    policy = get_json(kubectl, "validatingadmissionpolicy", f"{release.name}-pod-updates")
    assert release.user in policy["spec"]["matchConditions"][0]["expression"]
    # helm --wait returned: kwok reported the (image-less) operator pod Running and Ready.
    assert release.deployment["status"]["availableReplicas"] == 1
    (operator_pod,) = get_json(kubectl, "-n", release.namespace, "pods")["items"]
    assert operator_pod["spec"]["nodeName"].startswith("kwok-node-")
    assert operator_pod["spec"]["containers"][0]["image"].startswith("registry.invalid/podeip:")
    env = {e["name"]: e.get("value") for e in operator_pod["spec"]["containers"][0]["env"]}
    assert "PODEIP_PEERING_NAME" not in env and env["PODEIP_STANDALONE"] == "false"


def test_service_account_may_do_what_the_operator_needs_and_nothing_more(
    kubectl: Kubectl, release: Release, namespace: str
) -> None:
    ns, elsewhere = ("-n", release.namespace), ("-n", namespace)
    allowed = [
        ("patch", "pods", *elsewhere),
        ("patch", "pods", "--subresource=status", *elsewhere),
        ("watch", "pods", "--all-namespaces"),
        ("create", "podeips.alibabacloud.com", *elsewhere),
        ("delete", "podeips.alibabacloud.com", *elsewhere),
        ("patch", "podeips.alibabacloud.com", "--subresource=status", *elsewhere),
        ("create", "leases.coordination.k8s.io", *ns),
        ("delete", "leases.coordination.k8s.io", *ns),
        ("get", "namespaces/kube-system"),
        ("create", "events", *elsewhere),
        ("update", f"leases.coordination.k8s.io/{LEASE_NAME}", *ns),
        ("get", "configmaps/eni-config", "-n", "kube-system"),
        ("get", "deployments.apps/ack-extend-network-controller", "-n", "kube-system"),
        ("get", "nodes"),
    ]
    denied = [
        ("list", "secrets", "--all-namespaces"),
        ("list", "secrets", *ns),
        ("get", "secrets", *ns),
        ("create", "pods", *elsewhere),
        ("delete", "pods", *elsewhere),
        ("update", "pods", *elsewhere),
        ("create", "pods/exec", *elsewhere),
        ("create", "leases.coordination.k8s.io", *elsewhere),
        ("create", "leases.coordination.k8s.io", "-n", "kube-system"),
        ("get", "configmaps/other", "-n", "kube-system"),
        ("list", "configmaps", "-n", "kube-system"),
        ("get", "deployments.apps/coredns", "-n", "kube-system"),
        ("get", "deployments.apps/ack-extend-network-controller", *ns),
        ("get", "namespaces/default"),
        ("create", "clusterrolebindings"),
        ("create", "rolebindings", *ns),
        ("patch", "nodes"),
        ("create", "customresourcedefinitions"),
        ("update", "leases.coordination.k8s.io/other", *ns),
    ]
    wrong = [args for args in allowed if not can_i(kubectl, release, *args)]
    wrong += [("NOT denied", *args) for args in denied if can_i(kubectl, release, *args)]
    assert wrong == []


def attempt(control_plane: ControlPlane, identity: tuple[str, ...], *args: str, input: str = "") -> str:
    """A kubectl request as ``identity``: "" when it was allowed, else the error."""
    result = subprocess.run(
        [str(binary("kubectl")), "--kubeconfig", str(control_plane.kubeconfig), *identity, *args],
        input=input, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return "" if result.returncode == 0 else result.stderr or "failed"


def test_only_the_operator_and_allowed_migrators_create_and_rewrite_podeips(
    control_plane: ControlPlane, release: Release, namespace: str
) -> None:
    # A cluster admin in everything but name: RBAC allows all, so any denial is the policy's.
    alice = ("--as=alice", "--as-group=system:masters")
    operator = (f"--as={release.user}",)
    migrator = (f"--as={MIGRATOR}", "--as-group=system:masters")
    grouped = ("--as=bob", "--as-group=system:masters", f"--as-group={MIGRATOR_GROUP}")
    name = "forged"
    manifest = json.dumps({
        "apiVersion": f"{c.GROUP}/{c.VERSION}", "kind": "PodEIP",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "allocationID": "eip-e2eadmissionnone",
            "allocationType": {"type": "Auto", "releaseStrategy": "Follow"},
        },
    })  # fmt: skip
    create = ("create", "-f", "-", "--dry-run=server")
    ns = ("-n", namespace)

    def patch(*extra: str, body: dict) -> tuple[str, ...]:  # type: ignore[type-arg]
        body_text = json.dumps(body)
        return ("patch", "podeip", name, *ns, "--type=merge", "-p", body_text, "--dry-run=server", *extra)

    # The policy is active once the API server has loaded it.
    denied = wait_for(lambda: attempt(control_plane, alice, *create, input=manifest), timeout=30)
    assert "only the podeip-operator creates PodEIPs" in str(denied)
    assert attempt(control_plane, migrator, *create, input=manifest) == ""
    assert attempt(control_plane, grouped, *create, input=manifest) == ""
    assert attempt(control_plane, operator, "create", "-f", "-", input=manifest) == ""

    new_id = {"spec": {"allocationID": "eip-someoneelses"}}
    new_type = {"spec": {"allocationType": {"type": "Static", "releaseStrategy": "Never"}}}
    status = {"status": {"eipAddress": "203.0.113.9", "networkInterfaceID": "eni-victim"}}
    assert "spec.allocationID" in attempt(control_plane, alice, *patch(body=new_id))
    assert "spec.allocationType" in attempt(control_plane, alice, *patch(body=new_type))
    on_status = ("--subresource=status",)
    assert "writes PodEIP status" in attempt(control_plane, alice, *patch(*on_status, body=status))
    assert attempt(control_plane, alice, *patch(body={"metadata": {"labels": {"team": "a"}}})) == ""
    for allowed in (operator, migrator, grouped):
        assert attempt(control_plane, allowed, *patch(body=new_id)) == ""
        assert attempt(control_plane, allowed, *patch(body=new_type)) == ""
    # (kubectl reads podeips/status first, which the operator's RBAC does not grant; its own
    # status patches pass the policy in the operator test below, which fails on any denial.)
    for allowed in (migrator, grouped):
        assert attempt(control_plane, allowed, *patch(*on_status, body=status)) == ""
    assert attempt(control_plane, alice, "delete", "podeip", name, *ns) == ""


def test_operator_with_only_the_chart_rbac_binds_and_releases_eips_without_a_denial(
    operator: OperatorProcess,
    cloud: RunningSimulator,
    kubectl: Kubectl,
    release: Release,
    namespace: str,
) -> None:
    engine = cloud.engine
    cluster_id = get_json(kubectl, "namespace", "kube-system")["metadata"]["uid"]
    static = engine.seed_eip(status=EipStatus.AVAILABLE)
    seed = workload("Deployment", "example", 2, {K8S + "pod-with-eip": "true", K8S + "eip-bandwidth": "5"})
    # The static pod declares no readiness gate: its address goes by a patch of the pod itself
    # (pods with the gate get address and gate in one patch of pods/status), so both are used.
    static_pod = pod_manifest("static", {K8S + "pod-eip-instanceid": static.allocation_id}, gate=False)
    apply(kubectl, namespace, seed, static_pod)

    def address(name: str) -> str:
        found = wait_for(
            unrefused(operator, lambda: eip_address_of(kubectl, namespace, name)),
            timeout=60,
            what=f"EIP on {namespace}/{name}",
        )
        return str(found)

    # The seed Deployment: every pod gets its own Auto EIP, the annotations and the gate.
    def deployment_pods() -> list[str] | None:
        items = get_json(kubectl, "-n", namespace, "pods", "-l", "app=example")["items"]
        return sorted(p["metadata"]["name"] for p in items) if len(items) == 2 else None

    names: list[str] = wait_for(deployment_pods, what="the Deployment's pods")  # type: ignore[assignment]
    addresses = {name: address(name) for name in names}
    assert len(set(addresses.values())) == 2
    for name, ip in addresses.items():
        body = podeip(kubectl, namespace, name)
        assert body is not None and body["status"]["eipAddress"] == ip
        eip = next(e for e in engine.eips() if e.allocation_id == body["spec"]["allocationID"])
        assert eip.bandwidth == 5 and eip.status is EipStatus.IN_USE
        # The cluster ID came from the kube-system UID, read with the chart's RBAC.
        assert eip.tags[c.TAG_CLUSTER_ID] == cluster_id

    # The static EIP: associated, and claimed by a Lease in the release namespace.
    assert address("static") == static.ip_address
    claims = get_json(kubectl, "-n", release.namespace, "leases", "-l", CLAIM_LABEL)["items"]
    assert [lease["spec"]["holderIdentity"].rsplit("/", 1)[0] for lease in claims] == [f"{namespace}/static"]
    # The operator leads (the leader Lease is renewed with the chart's RBAC: update by name).
    leader = get_json(kubectl, "-n", release.namespace, "lease", LEASE_NAME)
    assert leader["spec"]["holderIdentity"] == f"{OPERATOR_POD}_{OPERATOR_POD_UID}"
    assert claims[0]["metadata"]["annotations"][c.PRIVATE_PREFIX + "allocation-id"] == static.allocation_id

    # Delete everything: Follow releases the Auto EIPs; the static EIP is only unassociated.
    auto_ids = {podeip(kubectl, namespace, name)["spec"]["allocationID"] for name in names}  # type: ignore[index]
    kubectl("-n", namespace, "delete", "deployment", "example", "--wait=false")
    kubectl("-n", namespace, "delete", "pod", "static", "--wait=false")
    wait_for(
        unrefused(operator, lambda: not get_json(kubectl, "-n", namespace, "podeips")["items"]),
        timeout=60,
        what="PodEIPs gone",
    )
    wait_for(
        unrefused(operator, lambda: not [e for e in engine.eips() if e.allocation_id in auto_ids]),
        timeout=30,
        what="EIPs released",
    )
    assert not [e for e in engine.eips() if e.tags.get(c.TAG_NAMESPACE) == namespace], "leaked EIPs"
    kept = next(e for e in engine.eips() if e.allocation_id == static.allocation_id)
    assert kept.status is EipStatus.AVAILABLE and not kept.instance_id
    assert {call.action for call in engine.mutations(allocation_id=static.allocation_id)} == {
        "AssociateEipAddress",
        "UnassociateEipAddress",
    }
    wait_for(
        unrefused(
            operator,
            lambda: not get_json(kubectl, "-n", release.namespace, "leases", "-l", CLAIM_LABEL)["items"],
        ),
        timeout=30,
        what="claim gone",
    )

    # Let one more GC pass (cluster-wide lists under the chart's RBAC) run before reading the
    # log: it logs every refused list.
    gc_passes = len(engine.call_log(action="DescribeEipAddresses"))
    wait_for(
        lambda: len(engine.call_log(action="DescribeEipAddresses")) > gc_passes + 1,
        timeout=30,
        what="two more GC passes",
    )

    # Nothing was refused, and the calls the chart's RBAC is there for did succeed.
    assert denials(operator) == []
    requests = kube_requests(operator.metrics())
    refused = {key: n for key, n in requests.items() if key[2] in ("401", "403", "422")}
    assert refused == {}
    succeeded = {
        (verb, resource) for (verb, resource, code), n in requests.items() if code.startswith("2") and n
    }
    needed = {
        ("get", "namespaces"),
        ("get", "customresourcedefinitions"),
        ("get", "nodes"),
        ("create", "leases"),
        ("delete", "leases"),
        ("patch", "pods"),
        ("patch", "pods/status"),
        ("create", "events"),
        ("create", "podeips"),
        ("patch", "podeips/status"),
    }
    assert needed <= succeeded, sorted(needed - succeeded)
