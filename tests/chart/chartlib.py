"""Rendering the chart with the real helm binary of the test bed, parsed into dicts.

`helm template` needs no cluster. The Kubernetes version is passed explicitly so that every
test renders for the test bed's Kubernetes; the test bed's helm carries its release stamps, so
a plain `helm template` works too (test_chart_package.py checks that).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.cluster import versions

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "podeip-operator"
VALUES = Path(__file__).resolve().parent / "values"
KUBE_VERSION = versions()["KUBERNETES_VERSION"]
NAMESPACE = "kube-system"
RELEASE = "podeip"


@dataclass(frozen=True)
class Rendered:
    """The objects of one `helm template` run, with lookups by kind and name."""

    objects: list[dict[str, Any]]

    def kinds(self) -> list[str]:
        return [obj["kind"] for obj in self.objects]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [obj for obj in self.all(kind) if name is None or obj["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    @property
    def pod_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.one("Deployment")["spec"]["template"]["spec"]
        return spec

    def container(self, name: str = "operator") -> dict[str, Any]:
        (found,) = [c for c in self.pod_spec["containers"] if c["name"] == name]
        return found

    @property
    def env(self) -> dict[str, str]:
        """The operator's literal environment (valueFrom entries left out)."""
        return {e["name"]: e["value"] for e in self.container()["env"] if "value" in e}


class HelmFailed(Exception):
    pass


#: Rendered first (regionID, which the chart requires); the test's own values files override it.
SITE = Path(__file__).resolve().parent / "site.yaml"


def values_args(values_files: Iterable[str], sets: Iterable[str], *, site: bool = True) -> list[str]:
    """helm's value arguments. Alibaba's AENC samples carry the placeholder clusterID
    c11ba338192xxxxxxx, which the chart refuses (test_placeholder_cluster_ids_are_refused);
    other tests render them as a user who read that refusal would: with clusterID left empty."""
    args = ["--values", str(SITE)] if site else []
    placeholder = False
    for name in values_files:
        args += ["--values", str(VALUES / name)]
        placeholder |= "192xxxxxxx" in (VALUES / name).read_text()
    sets = list(sets)
    if placeholder and not any(item.startswith("clusterID=") for item in sets):
        sets.append("clusterID=")
    for item in sets:
        args += ["--set", item]
    return args


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=60, check=False)


Render = Callable[..., Rendered]
