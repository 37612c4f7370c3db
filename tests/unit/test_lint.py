"""We test these aspects: ``podeip lint`` on the documented examples (crds/samples) prints the
requests the documents describe; templates are found in every workload shape, multi-document
files, Lists and stdin; the stateful rule follows the workload kind; errors are single lines of
``file:doc Kind/name: key=value: what is allowed`` with exit status 1; unreadable input exits 2;
JSON output carries the same findings."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from podeip import cli, lint
from podeip import constants as c
from podeip.settings import Settings

SAMPLES = Path(__file__).parents[2] / "crds" / "samples"
AUTO_DEFAULTS = {
    "allocation_type": "Auto",
    "release_strategy": "Follow",
    "bandwidth": 5,
    "internet_charge_type": "PayByTraffic",
    "instance_charge_type": "PostPaid",
    "security_protection_types": [],
    "tags": {},
}


def lint_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]]]:
    status = cli.main(["lint", "--output", "json", *argv])
    return status, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("sample", "where", "expected"),
    [
        ("deployment-auto-follow.yaml", "Deployment/example", AUTO_DEFAULTS),
        ("deployment-network-prefix.yaml", "Deployment/nginx-deployment-basic", AUTO_DEFAULTS),
        ("terway-deployment-5m.yaml", "Deployment/nginx-deployment-basic", AUTO_DEFAULTS),
        ("pod-init-container.yaml", "Pod/example", AUTO_DEFAULTS),
        (
            "statefulset-auto-ttl.yaml",
            "StatefulSet/example",
            {**AUTO_DEFAULTS, "release_strategy": "TTL", "release_after": "10m", "release_ttl": "PT10M"},
        ),
        (
            "pod-static-never.yaml",
            "Pod/static-example",
            {
                "allocation_type": "Static",
                "allocation_id": "eip-bp14qxxxxxxx",
                "release_strategy": "Never",
                "security_protection_types": [],
                "tags": {},
            },
        ),
    ],
)
def test_documented_examples_give_the_documented_requests(
    capsys: pytest.CaptureFixture[str], sample: str, where: str, expected: dict[str, Any]
) -> None:
    status, [report] = lint_json(capsys, str(SAMPLES / sample))
    assert status == 0
    assert report["where"] == f"{SAMPLES / sample}:1 {where}"
    assert report["request"] == expected
    assert report["warnings"] == [] and report["errors"] == []


def test_all_samples_lint_clean_and_the_podeip_sample_has_no_template(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, reports = lint_json(capsys, *sorted(str(p) for p in SAMPLES.glob("*.yaml")))
    assert status == 0
    assert len(reports) == len(list(SAMPLES.glob("*.yaml"))) - 1
    assert not any("PodEIP" in r["where"] for r in reports)


MANIFESTS = """\
apiVersion: v1
kind: List
items:
- kind: Deployment
  metadata: {name: web}
  spec:
    template:
      metadata:
        annotations:
          k8s.aliyun.com/pod-with-eip: "true"
          k8s.aliyun.com/pod-eip-release-strategy: "Never"
- kind: Service
  metadata: {name: svc}
---
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        metadata:
          annotations: {k8s.aliyun.com/pod-with-eip: "true"}
---
kind: GameServerSet
metadata: {name: game}
spec:
  gameServerTemplate:
    metadata:
      annotations:
        network.alibabacloud.com/pod-with-eip: "true"
        network.alibabacloud.com/pod-eip-release-strategy: "5m30s"
---
kind: DaemonSet
metadata: {name: plain}
spec:
  template:
    metadata: {labels: {app: plain}}
"""


def test_templates_are_found_in_lists_cronjobs_okg_and_multi_documents(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(MANIFESTS))
    status = cli.main(["lint", "--custom-stateful-kinds", "GameServerSet", "-"])
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert lines[0].startswith(
        '-:1 Deployment/web: EIP request {"allocation_type": "Auto", "release_strategy": "Follow"'
    )
    assert lines[1].startswith(
        '-:1 Deployment/web: warning: k8s.aliyun.com/pod-eip-release-strategy="Never" is treated as Follow'
    )
    assert lines[2].startswith("-:2 CronJob/nightly: EIP request ")
    assert lines[3].startswith(
        '-:3 GameServerSet/game: EIP request {"allocation_type": "Auto", "release_strategy": "TTL", '
        '"release_after": "5m30s"'
    )
    assert lines[4] == "-:4 DaemonSet/plain: no EIP requested"
    assert len(lines) == 5


def test_without_custom_kinds_an_okg_workload_is_stateless(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MANIFESTS)
    _, reports = lint_json(capsys, str(path))
    game = next(r for r in reports if r["kind"] == "GameServerSet")
    assert (
        game["request"]["release_strategy"] == "Follow"
        and game["warnings"][0]["reason"] == "ReleaseStrategyIgnored"
    )


BAD = """\
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    metadata:
      annotations:
        k8s.aliyun.com/pod-with-eip: "true"
        k8s.aliyun.com/eip-bandwidth: "900"
        network.alibabacloud.com/pod-eip-release-strategy: "-5m"
        k8s.aliyun.com/eip-tags: 5
"""


def test_errors_are_one_line_each_with_file_doc_key_value_and_remedy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    status = cli.main(["lint", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert status == 1
    prefix = f"{path}:1 StatefulSet/db: "
    assert lines == [
        prefix + 'k8s.aliyun.com/eip-tags="5": annotation values must be strings; quote the value',
        prefix
        + 'network.alibabacloud.com/pod-eip-release-strategy="-5m": Follow, Never, or a positive Go duration '
        "such as 10m, 5m30s or 720h, without surrounding blanks (release duration '-5m' must be positive)",
        prefix
        + 'k8s.aliyun.com/eip-bandwidth="900": an integer number of Mbit/s from 1 to 200 for PayByTraffic, '
        "such as 5 or 5M",
    ]


def test_options_set_the_bandwidth_cap_and_the_ttl_cap(capsys: pytest.CaptureFixture[str]) -> None:
    sample = str(SAMPLES / "statefulset-auto-ttl.yaml")
    status, [report] = lint_json(capsys, "--max-release-after", "5m", sample)
    assert status == 0 and report["request"]["release_after"] == "5m0s"
    assert [w["reason"] for w in report["warnings"]] == [c.EV_RELEASE_STRATEGY_CLAMPED]
    status, [report] = lint_json(capsys, sample)
    assert status == 0 and report["warnings"] == []
    status, [report] = lint_json(capsys, "--max-bandwidth", "4", str(SAMPLES / "deployment-auto-follow.yaml"))
    assert status == 1 and "from 1 to 4" in report["errors"][0]["message"]


def test_lint_and_operator_options_have_the_same_defaults() -> None:
    """One parser serves both; the flags default to what the operator's settings default to."""
    parser = argparse.ArgumentParser()
    lint.add_arguments(parser)
    args = parser.parse_args(["x.yaml"])
    defaults = Settings(cloud={"provider": "simulated"})
    assert (args.max_release_after or None) == defaults.max_release_after
    assert args.max_bandwidth == defaults.max_bandwidth_mbps
    assert args.allow_prepaid == defaults.allow_prepaid
    assert args.virtual_node is False  # pods on ordinary nodes read every alias


def test_values_that_cannot_be_stored_are_errors_in_lint_as_in_the_operator(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "odd.yaml"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "odd",
            "annotations": {
                "k8s.aliyun.com/pod-with-eip": "true",
                "k8s.aliyun.com/eip-tags": '{"a":"\\ud800"}',
                "k8s.aliyun.com/eip-name": "bad\ud800name",
                "k8s.aliyun.com/pod-eip-release-strategy": "1h\n",
            },
        },
    }
    manifest.write_text(json.dumps(pod))
    status, [report] = lint_json(capsys, str(manifest))
    assert status == 1 and report["request"] is None
    assert sorted(e["key"] for e in report["errors"]) == [
        "k8s.aliyun.com/eip-name",
        "k8s.aliyun.com/eip-tags",
        "k8s.aliyun.com/pod-eip-release-strategy",
    ]
    assert status == cli.main(["lint", str(manifest)])  # the text output is writable too
    text = capsys.readouterr().out
    assert "\\ud800" in text and "1h\\n" in text


def test_unreadable_files_exit_2_and_the_others_are_still_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: Pod\nmetadata: [unclosed\n")
    status = cli.main(
        ["lint", str(tmp_path / "missing.yaml"), str(broken), str(SAMPLES / "pod-init-container.yaml")]
    )
    captured = capsys.readouterr()
    assert status == 2
    assert "missing.yaml: cannot read" in captured.err and "broken.yaml: cannot read" in captured.err
    assert "Pod/example: EIP request" in captured.out


def test_the_tke_seed_manifests_lint_with_the_resolved_request_and_the_tke_warnings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, [auto, listed] = lint_json(
        capsys,
        str(SAMPLES / "tke-statefulset-auto-never.yaml"),
        str(SAMPLES / "tke-statefulset-eip-id-list.yaml"),
    )
    assert status == 0
    assert auto["request"] == {**AUTO_DEFAULTS, "release_strategy": "Never", "bandwidth": 100, "isp": "BGP"}
    assert listed["request"] == {
        "allocation_type": "Static",
        "allocation_ids": ["eip-xxx1", "eip-xxx2"],
        "release_strategy": "Follow",
        "security_protection_types": [],
        "tags": {},
    }
    for report in (auto, listed):
        found = {(w["reason"], w["key"]) for w in report["warnings"]}
        # The extended resources (both named) and the network annotation.
        assert (c.EV_TKE_ONLY, "tke.cloud.tencent.com/eip") in found
        assert (c.EV_TKE_ONLY, c.TKE_NETWORKS) in found
        resource = next(w for w in report["warnings"] if w["key"] == "tke.cloud.tencent.com/eip")
        assert "tke.cloud.tencent.com/eni-ip" in resource["message"]
        assert any(w["reason"] == c.EV_TKE_ANNOTATIONS_READ for w in report["warnings"])
    never = next(w for w in auto["warnings"] if w["reason"] == c.EV_TKE_ANNOTATIONS_READ)
    assert "kubectl delete podeip" in never["message"]
    ordinals = next(w for w in listed["warnings"] if w["reason"] == c.EV_EXISTING_EIP_REQUESTED)
    assert "0 → eip-xxx1, 1 → eip-xxx2" in ordinals["message"]


def test_without_tke_annotations_the_seed_asks_for_nothing_but_the_resources_are_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, [report] = lint_json(
        capsys, "--no-tke-annotations", str(SAMPLES / "tke-statefulset-auto-never.yaml")
    )
    assert status == 0 and report["request"] is None and not report["requested"]
    assert {w["reason"] for w in report["warnings"]} == {c.EV_TKE_ONLY}


def test_a_deployment_copied_from_tke_is_told_that_never_follows_the_pod(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "d.yaml"
    manifest.write_text(
        "kind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n      annotations:\n"
        "        tke.cloud.tencent.com/eip-attributes: '{}'\n"
        "        tke.cloud.tencent.com/eip-claim-delete-policy: Never\n"
    )
    status, [report] = lint_json(capsys, str(manifest))
    assert status == 0 and report["request"]["release_strategy"] == "Follow"
    assert report["request"]["bandwidth"] == 100
    messages = " ".join(w["message"] for w in report["warnings"])
    assert "unlike TKE, Never applies only to StatefulSets" in messages
    assert "TKE's default of 100 Mbit/s" in messages
