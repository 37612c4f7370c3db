"""We test these aspects: the test bed's helm is stamped like a release (`helm version` prints
the full version, a plain `helm template` of the chart works without --kube-version);
`helm lint --strict` with every values file; the values schema
(refuses a second replica, typos under `podeip:`, wrong types of AENC keys; accepts unknown
top-level keys); the chart's PodEIP CRD is byte-identical to crds/ and hack/sync-crds.sh
agrees; no kopf peering CRD is bundled; values.yaml documents every
key and the chart README lists every value.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from chart.chartlib import (
    CHART,
    KUBE_VERSION,
    RELEASE,
    ROOT,
    VALUES,
    HelmFailed,
    Render,
    run_helm,
    values_args,
)
from testbed.cluster import versions

VALUES_FILES = sorted(path.name for path in VALUES.glob("*.yaml"))


def test_the_test_beds_helm_is_stamped_like_a_release(helm: Path) -> None:
    version = run_helm(helm, "version", "--template", "{{ .Version }}")
    assert version.stdout.strip() == f"v{versions()['HELM_VERSION']}"
    # No --kube-version: the stamped helm's default Kubernetes version satisfies the chart.
    plain = run_helm(helm, "template", RELEASE, str(CHART), "--set", "regionID=cn-hangzhou")
    assert plain.returncode == 0, plain.stderr
    assert "kind: Deployment" in plain.stdout


@pytest.mark.parametrize("values_file", [None, *VALUES_FILES])
def test_helm_lint_strict_passes(helm: Path, values_file: str | None) -> None:
    args = ["lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION]
    args += values_args([values_file] if values_file else [], [])
    result = run_helm(helm, *args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_refuses_a_second_replica(render: Render) -> None:
    with pytest.raises(HelmFailed, match="replicaCount"):
        render(sets=["replicaCount=2"])
    assert render(sets=["replicaCount=0"]).one("Deployment")["spec"]["replicas"] == 0


@pytest.mark.parametrize(
    "typo",
    [
        "podeip.logLevl=DEBUG",
        "podeip.gc.dryrun=true",
        "podeip.cloud.vpcEndPoint=x",
        "podeip.leaderElection.leaseDuration=30",
        "podeip.simulator.enable=true",
        "podeip.cloud.rateLimits.TagResources.perMinut=5",
    ],
)
def test_schema_refuses_typos_under_podeip(render: Render, typo: str) -> None:
    with pytest.raises(HelmFailed, match=r"(?i)additional propert"):
        render(sets=[typo])


@pytest.mark.parametrize(
    "wrong",
    [
        "podeip.cloud.provider=aws",
        "podeip.logLevel=TRACE",
        "networkController.eipController.maxConcurrentReconciles=0",
        "kubeClientBurst=0",
        "enableVirtualNode=yes",
        "image.digest=latest",
    ],
)
def test_schema_refuses_wrong_values(render: Render, wrong: str) -> None:
    with pytest.raises(HelmFailed):
        render(sets=[wrong])


def test_schema_accepts_top_level_keys_it_does_not_know(render: Render) -> None:
    assert render(sets=["aencOnlyKey.nested=1", "image.registry=registry.example.com"]).kinds()


def test_chart_crd_is_identical_to_the_source_of_truth() -> None:
    source = ROOT / "crds" / "podeips.alibabacloud.com.yaml"
    copy = CHART / "crds" / "podeips.alibabacloud.com.yaml"
    assert copy.read_bytes() == source.read_bytes(), "run hack/sync-crds.sh"


def test_sync_crds_check_passes_on_the_repository() -> None:
    result = subprocess.run(
        [str(ROOT / "hack" / "sync-crds.sh"), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_sync_crds_check_detects_a_stale_copy(tmp_path: Path) -> None:
    (tmp_path / "hack").mkdir()
    (tmp_path / "crds").mkdir()
    (tmp_path / "charts" / "podeip-operator" / "crds").mkdir(parents=True)
    script = tmp_path / "hack" / "sync-crds.sh"
    script.write_bytes((ROOT / "hack" / "sync-crds.sh").read_bytes())
    script.chmod(0o755)
    (tmp_path / "crds" / "podeips.alibabacloud.com.yaml").write_text("new\n")
    (tmp_path / "charts" / "podeip-operator" / "crds" / "podeips.alibabacloud.com.yaml").write_text("old\n")
    stale = subprocess.run([str(script), "--check"], capture_output=True, text=True, check=False)
    assert stale.returncode == 1 and "differs" in stale.stderr
    subprocess.run([str(script)], capture_output=True, check=True)
    synced = subprocess.run([str(script), "--check"], capture_output=True, text=True, check=False)
    assert synced.returncode == 0


def test_the_chart_bundles_only_the_podeip_crd() -> None:
    """kopf peering is not used (the leader Lease is): its CRD is no longer shipped."""
    assert sorted(path.name for path in (CHART / "crds").iterdir()) == ["podeips.alibabacloud.com.yaml"]


#: Blocks holding Kubernetes objects (or a table) as they are; their comment covers their keys.
NATIVE_BLOCKS = {"podSecurityContext", "securityContext", "resources", "affinity", "rateLimits", "labels"}


def _keys_without_comment(path: Path) -> list[str]:
    """Active keys of values.yaml whose previous non-blank line is not a comment."""
    missing = []
    previous = ""
    native_indent: int | None = None
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if native_indent is not None and indent > native_indent:
            previous = line.strip()
            continue
        native_indent = None
        key = re.match(r"^\s*([A-Za-z][A-Za-z0-9]*):", line)
        if key:
            if not previous.startswith("#"):
                missing.append(key.group(1))
            if key.group(1) in NATIVE_BLOCKS:
                native_indent = indent
        previous = line.strip()
    return missing


def test_every_value_is_documented_by_a_comment() -> None:
    assert _keys_without_comment(CHART / "values.yaml") == []


def _leaf_paths(tree: object, prefix: str = "") -> set[str]:
    """Dotted paths of values.yaml; native blocks and the rate-limit table count as one value."""
    if isinstance(tree, dict) and tree and prefix.rsplit(".", 1)[-1] not in NATIVE_BLOCKS:
        paths: set[str] = set()
        for key, value in tree.items():
            paths |= _leaf_paths(value, f"{prefix}.{key}" if prefix else key)
        return paths
    return {prefix}


def test_chart_readme_lists_every_value() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.MULTILINE))
    commented_out = {"vpcid", "networkController.vpcid", "networkController.customStatefulWorkloadKinds"}
    assert documented == _leaf_paths(values) | commented_out
