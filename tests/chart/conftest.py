"""Fixtures of the static chart tests: the test bed's helm and a `helm template` renderer."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from chart.chartlib import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    HelmFailed,
    Render,
    Rendered,
    run_helm,
    values_args,
)
from testbed.cluster import binary


@pytest.fixture(scope="session")
def helm() -> Path:
    """The test bed's helm; a clear failure (never a skip) when it has not been built."""
    try:
        return binary("helm")
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    def render(
        *values_files: str,
        sets: Iterable[str] = (),
        kube_version: str = KUBE_VERSION,
        api_versions: Iterable[str] = (),
        site: bool = True,
    ) -> Rendered:
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", kube_version]
        args += values_args(values_files, sets, site=site)
        for api in api_versions:
            args += ["--api-versions", api]
        result = run_helm(helm, *args)
        if result.returncode != 0:
            raise HelmFailed(result.stderr)
        return Rendered([obj for obj in yaml.safe_load_all(result.stdout) if obj])

    return render
