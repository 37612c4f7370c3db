"""We test these aspects: AENC values files from Alibaba's pages install unchanged; every
documented AENC parameter reaches the operator as the right PODEIP_* variable; the three VPC
spellings and the two places of customStatefulWorkloadKinds; `affinity: null`; and the
rendered environment is accepted by the operator's own Settings with the intended values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chart.chartlib import CHART, ROOT, VALUES, HelmFailed, Render

SEED_FILES = ["aenc-ack.yaml", "aenc-acs.yaml", "aenc-acs-table.yaml", "aenc-ack-table.yaml"]


@pytest.mark.parametrize("values_file", SEED_FILES)
def test_aenc_values_file_renders_unchanged(render: Render, values_file: str) -> None:
    rendered = render(values_file)
    assert "Deployment" in rendered.kinds()
    assert rendered.one("Deployment")["spec"]["replicas"] == 1


#: A real-looking cluster ID in place of the samples' placeholder (which the chart refuses).
CLUSTER = "c4f2e1d0b9a8c7d6e5f4a3b2c1d0e9f8a"


def test_ack_sample_maps_each_parameter_to_its_setting(render: Render) -> None:
    env = render("aenc-ack.yaml", sets=[f"clusterID={CLUSTER}"]).env
    assert env["PODEIP_CLUSTER_ID"] == CLUSTER
    assert env["PODEIP_CLOUD__REGION_ID"] == "cn-hangzhou"
    assert env["PODEIP_CLOUD__VPC_ID"] == "vpc-bp1rkq0zxxxxxx"
    assert env["PODEIP_ENABLE_CONTROLLERS"] == "eip"
    assert env["PODEIP_MAX_CONCURRENT_RECONCILES"] == "1"
    assert env["PODEIP_GC__PERIOD_MINUTES"] == "1"
    assert env["PODEIP_CUSTOM_STATEFUL_WORKLOAD_KINDS"] == "foo"
    assert env["PODEIP_ENABLE_VIRTUAL_NODE"] == "false"


def test_ack_sample_with_empty_accesskey_uses_no_secret(render: Render) -> None:
    rendered = render("aenc-ack.yaml")
    assert rendered.all("Secret") == []
    assert not any(name.startswith("PODEIP_CLOUD__CREDENTIALS__") for name in rendered.env)
    assert [v["name"] for v in rendered.pod_spec["volumes"]] == ["tmp"]


def test_acs_sample_enables_virtual_nodes_and_higher_concurrency(render: Render) -> None:
    env = render("aenc-acs.yaml").env
    assert env["PODEIP_ENABLE_VIRTUAL_NODE"] == "true"
    assert env["PODEIP_MAX_CONCURRENT_RECONCILES"] == "10"
    assert env["PODEIP_CLOUD__VPC_ID"] == "vpc-bp1rkq0zxxxxxx"


def test_acs_sample_affinity_null_removes_the_default_affinity(render: Render) -> None:
    assert "affinity" in render().pod_spec
    assert "affinity" not in render("aenc-acs.yaml").pod_spec


def test_default_affinity_keeps_the_operator_off_virtual_nodes(render: Render) -> None:
    terms = render().pod_spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]}
    ]


def test_acs_table_spelling_vpcid_at_top_level_is_the_vpc(render: Render) -> None:
    env = render("aenc-acs-table.yaml").env
    assert env["PODEIP_CLOUD__VPC_ID"] == "vpc-uf6table0xxxxxx"
    assert env["PODEIP_CUSTOM_STATEFUL_WORKLOAD_KINDS"] == "GameServerSet"
    assert env["PODEIP_GC__PERIOD_MINUTES"] == "2"


def test_ack_table_spelling_networkcontroller_vpcid_is_the_vpc(render: Render) -> None:
    env = render("aenc-ack-table.yaml").env
    assert env["PODEIP_CLOUD__VPC_ID"] == "vpc-2zetable0xxxxxx"
    assert env["PODEIP_KUBE_CLIENT_QPS"] == "7.5"
    assert env["PODEIP_KUBE_CLIENT_BURST"] == "15"


def test_vpc_spellings_take_precedence_in_documented_order(render: Render) -> None:
    all_three = ["vpcID=vpc-first", "networkController.vpcid=vpc-second", "vpcid=vpc-third"]
    assert render(sets=all_three).env["PODEIP_CLOUD__VPC_ID"] == "vpc-first"
    assert render(sets=all_three[1:]).env["PODEIP_CLOUD__VPC_ID"] == "vpc-second"
    assert render(sets=all_three[2:]).env["PODEIP_CLOUD__VPC_ID"] == "vpc-third"


def test_custom_stateful_kinds_from_both_places_are_merged_without_duplicates(render: Render) -> None:
    sets = [
        "customStatefulWorkloadKinds={GameServerSet,CloneSet}",
        "networkController.customStatefulWorkloadKinds={CloneSet,Foo}",
    ]
    assert render(sets=sets).env["PODEIP_CUSTOM_STATEFUL_WORKLOAD_KINDS"] == "GameServerSet,CloneSet,Foo"


def test_enable_controllers_without_eip_is_passed_through(render: Render) -> None:
    env = render(sets=["enableControllers={natgw,ipv6gw}"]).env
    assert env["PODEIP_ENABLE_CONTROLLERS"] == "natgw,ipv6gw"


def test_aenc_keys_the_chart_does_not_know_are_accepted(render: Render) -> None:
    rendered = render("aenc-ack.yaml", sets=["someFutureAencFlag=true", "networkController.other=1"])
    assert rendered.env["PODEIP_CLOUD__REGION_ID"] == "cn-hangzhou"


def _settings_from(env: dict[str, str], tmp_files: dict[str, str] | None = None) -> dict[str, Any]:
    """Load podeip.settings.Settings in a fresh interpreter with exactly this environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PODEIP_")}
    code = "from podeip.settings import Settings; print(Settings().model_dump_json())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


@pytest.mark.parametrize("values_file", SEED_FILES)
def test_rendered_environment_is_accepted_by_the_operator_settings(render: Render, values_file: str) -> None:
    values = yaml.safe_load((VALUES / values_file).read_text())
    settings = _settings_from(render(values_file).env)
    assert settings["cloud"]["region_id"] == values["regionID"]
    assert settings["cloud"]["provider"] == "alibaba"
    assert settings["enable_controllers"] == ["eip"]
    assert "peering_name" not in settings
    assert settings["standalone"] is False
    assert settings["metrics_port"] == 9090


def test_acs_sample_settings_carry_every_aenc_value(render: Render) -> None:
    settings = _settings_from(render("aenc-acs.yaml", sets=[f"clusterID={CLUSTER}"]).env)
    assert settings["cluster_id"] == CLUSTER
    assert settings["cloud"]["vpc_id"] == "vpc-bp1rkq0zxxxxxx"
    assert settings["max_concurrent_reconciles"] == 10
    assert settings["gc"]["period_minutes"] == 1
    assert settings["custom_stateful_workload_kinds"] == ["foo"]
    assert settings["enable_virtual_node"] is True
    assert settings["cloud"]["credentials"]["access_key_id_file"] == "/etc/podeip/credentials/access-key-id"
    assert settings["cloud"]["credentials"]["use_ecs_ram_role"] is False


def test_podeip_section_settings_reach_the_operator(render: Render) -> None:
    settings = _settings_from(render("everything.yaml").env)
    assert settings["cloud"]["vpc_endpoint"] == "vpc-vpc.cn-hangzhou.aliyuncs.com"
    assert settings["cloud"]["ecs_endpoint"] == "ecs-vpc.cn-hangzhou.aliyuncs.com"
    assert settings["cloud"]["rate_limits"]["AllocateEipAddress"] == {"per_minute": 30, "burst": 3}
    # Overriding one API keeps the defaults of the others.
    assert settings["cloud"]["rate_limits"]["ReleaseEipAddress"] == {"per_minute": 500, "burst": 20}
    assert settings["gc"]["orphan_grace_minutes"] == 30
    assert settings["gc"]["dry_run"] is True
    assert settings["allow_prepaid"] is True
    assert settings["max_bandwidth_mbps"] == 200
    assert settings["adopt_untagged_eips"] is True
    assert settings["log_level"] == "DEBUG"
    assert settings["log_format"] == "text"
    assert settings["metrics_port"] == 9191


def test_chart_rate_limit_defaults_equal_the_operator_defaults() -> None:
    from podeip.settings import CloudSettings

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart = {
        api: {"per_minute": limit["perMinute"], "burst": limit["burst"]}
        for api, limit in values["podeip"]["cloud"]["rateLimits"].items()
    }
    defaults = {api: limit.model_dump() for api, limit in CloudSettings().rate_limits.items()}
    assert chart == defaults


def test_chart_podeip_defaults_equal_the_operator_defaults(render: Render) -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["podeip"]
    settings = _settings_from({**render().env, "PODEIP_CLOUD__REGION_ID": "cn-hangzhou"})
    assert settings["gc"]["orphan_grace_minutes"] == values["gc"]["orphanGraceMinutes"]
    assert settings["gc"]["dry_run"] == values["gc"]["dryRun"]
    assert settings["allow_prepaid"] == values["allowPrePaid"]
    assert settings["adopt_untagged_eips"] is values["adoptUntaggedEips"] is False
    assert settings["metrics_port"] == values["metricsPort"]


def test_simulator_sidecar_listens_on_loopback_and_the_operator_uses_it(render: Render) -> None:
    rendered = render("simulator.yaml", sets=["podeip.simulator.extraArgs={--vpc-cidr,10.244.0.0/16}"])
    sidecar = rendered.container("cloud-sim")
    script = sidecar["command"][2]
    assert sidecar["command"][:2] == ["/bin/sh", "-c"] and script.startswith("exec podeip cloud-sim ")
    assert '"$(cat "$DIR/access-key-id")"' in script and script.endswith('"$@"')
    assert sidecar["args"] == ["--vpc-cidr", "10.244.0.0/16"]
    sidecar_env = {e["name"]: e["value"] for e in sidecar["env"]}
    assert sidecar_env == {
        "LISTEN": "127.0.0.1:18080",
        "REGION": "cn-hangzhou",
        "VPC": "vpc-kind0000000000",
        "DIR": "/etc/podeip/credentials",
    }
    assert {"name": "credentials", "mountPath": "/etc/podeip/credentials", "readOnly": True} in sidecar[
        "volumeMounts"
    ]
    assert "sim-access-key-secret" not in json.dumps(rendered.one("Deployment"))
    assert sidecar["securityContext"] == rendered.container()["securityContext"]
    env = rendered.env
    assert env["PODEIP_CLOUD__PROVIDER"] == "alibaba"
    assert env["PODEIP_CLOUD__VPC_ENDPOINT"] == "http://127.0.0.1:18080"
    assert env["PODEIP_CLOUD__ECS_ENDPOINT"] == "http://127.0.0.1:18080"
    assert env["PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_ID_FILE"] == "/etc/podeip/credentials/access-key-id"


def test_simulator_sidecar_script_starts_the_simulator_with_its_arguments(
    render: Render, tmp_path: Path
) -> None:
    """Run the sidecar's shell script with a stand-in `podeip` that prints its arguments."""
    sidecar = render("simulator.yaml", sets=["podeip.simulator.extraArgs={--latency,50ms}"]).container(
        "cloud-sim"
    )
    (tmp_path / "access-key-id").write_text("sim-access-key-id")
    (tmp_path / "access-key-secret").write_text("sim-access-key-secret")
    fake = tmp_path / "bin" / "podeip"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    env = {e["name"]: e["value"] for e in sidecar["env"]} | {
        "DIR": str(tmp_path),
        "PATH": f"{fake.parent}:/usr/bin:/bin",
    }
    result = subprocess.run(
        [*sidecar["command"], *sidecar["args"]], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == [
        "cloud-sim", "--listen", "127.0.0.1:18080",
        "--region", "cn-hangzhou", "--vpc-id", "vpc-kind0000000000",
        "--access-key-id", "sim-access-key-id", "--access-key-secret", "sim-access-key-secret",
        "--latency", "50ms",
    ]  # fmt: skip


def test_simulator_without_an_accesskey_is_refused(render: Render) -> None:
    with pytest.raises(HelmFailed, match="needs an AccessKey pair"):
        render(sets=["regionID=cn-hangzhou", "podeip.simulator.enabled=true"])


def test_simulator_is_off_by_default(render: Render) -> None:
    rendered = render()
    assert [c["name"] for c in rendered.pod_spec["containers"]] == ["operator"]
    assert rendered.env["PODEIP_CLOUD__VPC_ENDPOINT"] == ""


def test_merged_stateful_kinds_reach_the_operator_as_a_list(render: Render) -> None:
    sets = [
        "regionID=cn-hangzhou",
        "customStatefulWorkloadKinds={GameServerSet}",
        "networkController.customStatefulWorkloadKinds={CloneSet}",
        "enableControllers={eip,natgw}",
    ]
    settings = _settings_from(render(sets=sets).env)
    assert settings["custom_stateful_workload_kinds"] == ["GameServerSet", "CloneSet"]
    assert settings["enable_controllers"] == ["eip", "natgw"]


def test_max_release_after_is_unset_by_default_and_a_go_duration_when_set(render: Render) -> None:
    assert "PODEIP_MAX_RELEASE_AFTER" not in render("aenc-ack.yaml").env
    rendered = render("aenc-ack.yaml", sets=["podeip.maxReleaseAfter=720h"])
    assert rendered.env["PODEIP_MAX_RELEASE_AFTER"] == "720h"
    assert _settings_from(rendered.env)["max_release_after"] == "P30D"
    assert _settings_from(render("aenc-ack.yaml").env)["max_release_after"] is None
    with pytest.raises(HelmFailed, match="maxReleaseAfter"):
        render("aenc-ack.yaml", sets=["podeip.maxReleaseAfter=720"])  # seconds? minutes? refused
