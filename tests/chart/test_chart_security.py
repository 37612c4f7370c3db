"""We test these aspects: one replica with the Recreate strategy; the restricted pod security
context with a read-only root and an emptyDir /tmp; RBAC without wildcards, without secrets
and with exactly the grants the operator needs; AccessKeys only as mounted files; RRSA on the
ServiceAccount; one active instance by the leader Lease alone; the ValidatingAdmissionPolicy
guarding pod updates; the optional NetworkPolicy.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chart.chartlib import NAMESPACE, RELEASE, HelmFailed, Render, Rendered

ALL_FILES = [
    (),
    ("aenc-ack.yaml",),
    ("aenc-acs.yaml",),
    ("aenc-acs-table.yaml",),
    ("aenc-ack-table.yaml",),
    ("rrsa.yaml",),
    ("everything.yaml",),
    ("simulator.yaml",),
]
SA_USER = f"system:serviceaccount:{NAMESPACE}:{RELEASE}-podeip-operator"


def rules_of(rendered: Rendered) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, namespace, rule) for every rule of every Role and ClusterRole."""
    found = []
    for kind in ("ClusterRole", "Role"):
        for role in rendered.all(kind):
            namespace = role["metadata"].get("namespace", "")
            found += [(kind, namespace, rule) for rule in role["rules"]]
    return found


def grants(rendered: Rendered, resource: str, kind: str = "ClusterRole") -> set[str]:
    verbs: set[str] = set()
    for role_kind, _, rule in rules_of(rendered):
        if role_kind == kind and resource in rule["resources"] and "resourceNames" not in rule:
            verbs |= set(rule["verbs"])
    return verbs


@pytest.mark.parametrize("values_files", ALL_FILES, ids=lambda files: "+".join(files) or "defaults")
def test_operator_runs_one_replica_with_recreate(render: Render, values_files: tuple[str, ...]) -> None:
    spec = render(*values_files).one("Deployment")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("values_files", ALL_FILES, ids=lambda files: "+".join(files) or "defaults")
def test_every_container_meets_the_restricted_pod_security_standard(
    render: Render, values_files: tuple[str, ...]
) -> None:
    rendered = render(*values_files)
    pod = rendered.pod_spec
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int) and pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod and "hostPID" not in pod
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["readOnlyRootFilesystem"] is True
        assert context["runAsNonRoot"] is True
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]


def test_operator_runs_podeip_run_with_probes_on_the_metrics_port(render: Render) -> None:
    rendered = render("everything.yaml")
    container = rendered.container()
    assert container["command"] == ["podeip"] and container["args"] == ["run"]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9191, "protocol": "TCP"}]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    service = rendered.one("Service")
    assert service["spec"]["ports"][0]["port"] == 9191
    assert service["spec"]["selector"] == rendered.one("Deployment")["spec"]["selector"]["matchLabels"]


def test_image_digest_replaces_the_tag(render: Render) -> None:
    assert render().container()["image"] == "podeip-operator:0.1.0"
    assert render(sets=["image.tag=dev"]).container()["image"] == "podeip-operator:dev"
    digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    assert render("everything.yaml").container()["image"] == f"registry.example.com/podeip-operator@{digest}"


def test_config_hash_changes_with_the_settings(render: Render) -> None:
    def config_hash(rendered: Rendered) -> str:
        annotations: dict[str, str] = rendered.one("Deployment")["spec"]["template"]["metadata"][
            "annotations"
        ]
        return annotations["checksum/config"]

    assert config_hash(render()) == config_hash(render())
    assert config_hash(render()) != config_hash(render(sets=["podeip.logLevel=DEBUG"]))


@pytest.mark.parametrize("values_files", ALL_FILES, ids=lambda files: "+".join(files) or "defaults")
def test_rbac_has_no_wildcards_and_no_secrets(render: Render, values_files: tuple[str, ...]) -> None:
    rules = rules_of(render(*values_files))
    assert rules
    for _, _, rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(field, []), rule
        assert not any("*" in resource for resource in rule["resources"]), rule
        assert "secrets" not in rule["resources"], rule
        assert "nonResourceURLs" not in rule, rule


def test_cluster_role_grants_what_the_operator_uses(render: Render) -> None:
    rendered = render()
    assert grants(rendered, "podeips") == {"get", "list", "watch", "create", "patch", "delete"}
    assert grants(rendered, "podeips/status") == {"patch"}
    assert grants(rendered, "pods") == {"get", "list", "watch", "patch"}
    assert grants(rendered, "pods/status") == {"patch"}
    assert grants(rendered, "nodes") == {"get"}
    assert grants(rendered, "events") == {"create", "patch"}
    assert grants(rendered, "customresourcedefinitions") == {"get", "list", "watch"}
    assert grants(rendered, "namespaces") == set()  # only kube-system, by name
    assert grants(rendered, "clusterkopfpeerings") == set()  # no kopf peering (the leader Lease)


def test_cluster_role_writes_nothing_but_podeips_pods_and_events(render: Render) -> None:
    writes = {"create", "update", "patch", "delete", "deletecollection"}
    written = {
        resource
        for kind, _, rule in rules_of(render())
        if kind == "ClusterRole" and writes & set(rule["verbs"])
        for resource in rule["resources"]
    }
    assert written == {"podeips", "podeips/status", "pods", "pods/status", "events"}


def test_namespaced_roles_are_pinned_to_leases_one_configmap_and_one_deployment(render: Render) -> None:
    roles = {(role["metadata"]["namespace"], json.dumps(role["rules"])) for role in render().all("Role")}
    assert roles == {
        (NAMESPACE, json.dumps([{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                 "verbs": ["get", "create", "delete"]},
                                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                 "resourceNames": ["podeip-operator-leader"], "verbs": ["update"]}])),
        ("kube-system", json.dumps([{"apiGroups": [""], "resources": ["configmaps"],
                                     "resourceNames": ["eni-config"], "verbs": ["get"]},
                                    {"apiGroups": ["apps"], "resources": ["deployments"],
                                     "resourceNames": ["ack-extend-network-controller"], "verbs": ["get"]}])),
    }  # fmt: skip


def test_kube_system_uid_is_readable_by_name_only(render: Render) -> None:
    named = [rule for _, _, rule in rules_of(render()) if rule.get("resourceNames") == ["kube-system"]]
    assert named == [
        {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["kube-system"], "verbs": ["get"]}
    ]


def test_bindings_point_at_the_operator_service_account(render: Render) -> None:
    rendered = render()
    sa = rendered.one("ServiceAccount")["metadata"]
    bindings = rendered.all("ClusterRoleBinding") + rendered.all("RoleBinding")
    assert len(bindings) == 3
    for binding in bindings:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"], "namespace": NAMESPACE}]
    assert rendered.pod_spec["serviceAccountName"] == sa["name"]


def test_rbac_create_false_renders_no_roles(render: Render) -> None:
    kinds = render(sets=["rbac.create=false"]).kinds()
    assert not {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} & set(kinds)


def test_accesskey_lives_in_a_secret_mounted_as_files_never_in_env(render: Render) -> None:
    rendered = render("aenc-acs.yaml")
    secret = rendered.one("Secret")
    assert base64.b64decode(secret["data"]["access-key-id"]).decode() == "xxxxxxxxxxxx"
    assert base64.b64decode(secret["data"]["access-key-secret"]).decode() == "xxxxxxxxxxxxxx"
    volume = next(v for v in rendered.pod_spec["volumes"] if v["name"] == "credentials")
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    assert volume["secret"]["defaultMode"] == 0o440
    mount = next(m for m in rendered.container()["volumeMounts"] if m["name"] == "credentials")
    assert mount == {"name": "credentials", "mountPath": "/etc/podeip/credentials", "readOnly": True}
    env = rendered.env
    assert env["PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_ID_FILE"] == "/etc/podeip/credentials/access-key-id"
    assert (
        env["PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_SECRET_FILE"]
        == "/etc/podeip/credentials/access-key-secret"
    )
    everything = json.dumps(rendered.one("Deployment"))
    assert "xxxxxxxxxxxxxx" not in everything
    assert "secretKeyRef" not in everything


def test_existing_secret_is_mounted_and_no_secret_is_rendered(render: Render) -> None:
    rendered = render(sets=["regionID=cn-hangzhou", "podeip.credentials.existingSecret=my-ak"])
    assert rendered.all("Secret") == []
    volume = next(v for v in rendered.pod_spec["volumes"] if v["name"] == "credentials")
    assert volume["secret"]["secretName"] == "my-ak"


def test_half_an_accesskey_pair_is_refused(render: Render) -> None:
    with pytest.raises(HelmFailed, match="must be given together"):
        render(sets=["credential.accessKey=only-the-id"])


def test_rrsa_annotates_the_service_account_and_disables_the_node_role(render: Render) -> None:
    rendered = render("rrsa.yaml")
    annotations = rendered.one("ServiceAccount")["metadata"]["annotations"]
    assert annotations == {"pod-identity.alibabacloud.com/role-name": "podeip-eip-role"}
    assert rendered.env["PODEIP_CLOUD__CREDENTIALS__USE_ECS_RAM_ROLE"] == "false"
    assert rendered.all("Secret") == []
    assert "PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_ID_FILE" not in rendered.env


def test_rrsa_keeps_user_service_account_annotations(render: Render) -> None:
    rendered = render("rrsa.yaml", sets=["serviceAccount.annotations.example\\.com/owner=net"])
    annotations = rendered.one("ServiceAccount")["metadata"]["annotations"]
    assert annotations == {
        "pod-identity.alibabacloud.com/role-name": "podeip-eip-role",
        "example.com/owner": "net",
    }


def test_rrsa_without_a_role_name_is_refused(render: Render) -> None:
    with pytest.raises(HelmFailed, match="rrsaRoleName is required"):
        render(sets=["enableRRSA=true"])


def test_worker_role_is_the_default_identity(render: Render) -> None:
    rendered = render("aenc-ack.yaml")
    assert "annotations" not in rendered.one("ServiceAccount")["metadata"]
    assert "PODEIP_CLOUD__CREDENTIALS__USE_ECS_RAM_ROLE" not in rendered.env


def test_one_active_instance_comes_from_the_leader_lease_alone(render: Render) -> None:
    """No kopf peering (it paused the leader whenever a second instance started): no peering
    object, the operator is never standalone, and it holds the Lease as <pod name>_<pod UID>."""
    rendered = render(api_versions=["zalando.org/v1/ClusterKopfPeering"])
    assert rendered.all("ClusterKopfPeering") == []
    assert rendered.env["PODEIP_STANDALONE"] == "false"
    assert "PODEIP_PEERING_NAME" not in rendered.env
    env = {e["name"]: e for e in rendered.container()["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_UID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.uid"}}
    assert rendered.env["PODEIP_LEADER__IDENTITY"] == "$(POD_NAME)_$(POD_UID)"
    names = [e["name"] for e in rendered.container()["env"]]
    assert names.index("POD_NAME") < names.index("PODEIP_LEADER__IDENTITY")  # $(...) needs it first


def test_lease_timings_reach_the_operator_and_are_valid_settings(render: Render) -> None:
    from podeip.settings import LeaderSettings

    rendered = render(sets=["podeip.leaderElection.leaseDurationSeconds=30"])
    leader = LeaderSettings(
        lease_duration_seconds=rendered.env["PODEIP_LEADER__LEASE_DURATION_SECONDS"],
        renew_every_seconds=rendered.env["PODEIP_LEADER__RENEW_EVERY_SECONDS"],
        renew_deadline_seconds=rendered.env["PODEIP_LEADER__RENEW_DEADLINE_SECONDS"],
        retry_every_seconds=rendered.env["PODEIP_LEADER__RETRY_EVERY_SECONDS"],
    )
    assert leader.lease_duration_seconds == 30
    assert leader == LeaderSettings(lease_duration_seconds=30)  # the chart's defaults are the operator's


def test_admission_policy_matches_only_the_operator_updating_pods(render: Render) -> None:
    rendered = render()
    policy = rendered.one("ValidatingAdmissionPolicy", f"{RELEASE}-podeip-operator-pod-updates")
    assert policy["apiVersion"] == "admissionregistration.k8s.io/v1"
    assert policy["spec"]["failurePolicy"] == "Fail"
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rule["operations"] == ["UPDATE"] and rule["resources"] == ["pods", "pods/status"]
    (condition,) = policy["spec"]["matchConditions"]
    assert condition["expression"] == f'request.userInfo.username == "{SA_USER}"'
    ours = next(v for v in policy["spec"]["variables"] if v["name"] == "ours")
    assert "'k8s.aliyun.com/allocated-eipAddress'" in ours["expression"]
    assert "'network.alibabacloud.com/allocated-eipAddress'" in ours["expression"]
    conditions = " ".join(v["expression"] for v in policy["spec"]["variables"] if "Conditions" in v["name"])
    assert conditions.count("c.type != 'k8s.aliyun.com/eip'") == 2
    binding = rendered.one("ValidatingAdmissionPolicyBinding", policy["metadata"]["name"])
    assert binding["spec"] == {"policyName": policy["metadata"]["name"], "validationActions": ["Deny"]}


def test_podeip_policy_exempts_the_operator_and_the_allowed_identities_only(render: Render) -> None:
    """Who is exempt is rendered into the match condition (the e2e test runs the policy)."""
    name = f"{RELEASE}-podeip-operator-podeips"
    policy = render().one("ValidatingAdmissionPolicy", name)["spec"]
    (rule,) = policy["matchConstraints"]["resourceRules"]
    assert (rule["apiGroups"], rule["operations"]) == (["alibabacloud.com"], ["CREATE", "UPDATE"])
    assert rule["resources"] == ["podeips", "podeips/status"]  # DELETE stays open to everybody
    (condition,) = policy["matchConditions"]
    assert f'request.userInfo.username in ["{SA_USER}"]' in condition["expression"]
    assert "g in []" in condition["expression"]
    rendered = render(
        sets=[
            "validatingAdmissionPolicy.podEIPs.allowedUsernames={system:serviceaccount:kube-system:terway}",
            "validatingAdmissionPolicy.podEIPs.allowedGroups={migrators}",
        ]
    )
    (condition,) = rendered.one("ValidatingAdmissionPolicy", name)["spec"]["matchConditions"]
    assert f'["{SA_USER}","system:serviceaccount:kube-system:terway"]' in condition["expression"]
    assert 'g in ["migrators"]' in condition["expression"]
    binding = rendered.one("ValidatingAdmissionPolicyBinding", name)
    assert binding["spec"] == {"policyName": name, "validationActions": ["Deny"]}


def test_admission_policy_is_skipped_before_kubernetes_1_30_and_when_disabled(render: Render) -> None:
    assert "ValidatingAdmissionPolicy" not in render(kube_version="1.29.4").kinds()
    assert "ValidatingAdmissionPolicy" not in render(sets=["validatingAdmissionPolicy.enabled=false"]).kinds()


def test_network_policy_is_off_by_default(render: Render) -> None:
    assert "NetworkPolicy" not in render().kinds()


def test_network_policy_blocks_instance_metadata_under_an_explicit_identity(render: Render) -> None:
    policy = render("everything.yaml").one("NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert ingress["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    cloud = next(rule for rule in policy["egress"] if "to" in rule)
    assert cloud["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["100.100.100.200/32"]}}]
    assert {p["port"] for p in cloud["ports"]} == {443, 6443}


def test_network_policy_allows_instance_metadata_for_the_worker_role(render: Render) -> None:
    policy = render("aenc-ack.yaml", sets=["networkPolicy.enabled=true"]).one("NetworkPolicy")["spec"]
    blocks = [peer["ipBlock"] for rule in policy["egress"] for peer in rule.get("to", [])]
    assert {"cidr": "100.100.100.200/32"} in blocks
    assert all("except" not in block for block in blocks)


def test_service_monitor_scrapes_the_metrics_service(render: Render) -> None:
    rendered = render("everything.yaml")
    monitor = rendered.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"] == rendered.one("Service")["spec"]["selector"]
    assert "ServiceMonitor" not in render().kinds()
