"""We test these aspects of the chart's ``podeip.watch.selectLabeledPods`` (issue 13, item 4):
off by default, with no MutatingAdmissionPolicy; on, it renders the policy and its binding (v1
for Kubernetes >= 1.36, v1beta1 where the cluster serves only that, refused where neither),
matching pod CREATE only for exactly the annotations the operator reads as enabling
(``ENABLING_KEYS``), adding the label the operator selects on; the setting reaches the one
Settings object; the schema refuses a non-boolean and unknown keys under ``podeip.watch``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chart.chartlib import CHART, RELEASE, HelmFailed, Render, run_helm
from podeip import constants as c
from podeip.reconcile.deps import ENABLING_KEYS
from podeip.settings import Settings

NAME = f"{RELEASE}-podeip-operator-label-eip-pods"
ON = ["podeip.watch.selectLabeledPods=true"]


def test_off_by_default_no_policy_and_the_setting_is_false(render: Render) -> None:
    rendered = render()
    assert not [k for k in rendered.kinds() if k.startswith("MutatingAdmissionPolicy")]
    assert rendered.env["PODEIP_WATCH__SELECT_LABELED_PODS"] == "false"
    settings = Settings(
        cloud={"provider": "simulated"},  # type: ignore[arg-type]
        watch={"select_labeled_pods": rendered.env["PODEIP_WATCH__SELECT_LABELED_PODS"]},  # type: ignore[arg-type]
    )
    assert settings.watch.select_labeled_pods is False


def test_on_renders_the_policy_for_the_enabling_keys_and_its_binding(render: Render) -> None:
    rendered = render(sets=ON)
    policy = rendered.one("MutatingAdmissionPolicy", NAME)
    binding = rendered.one("MutatingAdmissionPolicyBinding", NAME)
    assert policy["apiVersion"] == binding["apiVersion"] == "admissionregistration.k8s.io/v1"
    assert binding["spec"] == {"policyName": NAME}  # every namespace
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    (rule,) = spec["matchConstraints"]["resourceRules"]
    assert (rule["apiGroups"], rule["resources"], rule["operations"]) == ([""], ["pods"], ["CREATE"])
    (condition,) = spec["matchConditions"]
    listed = re.search(r"(\[.*?\])\.exists", condition["expression"])
    assert listed is not None
    assert set(json.loads(listed.group(1))) == ENABLING_KEYS
    (mutation,) = spec["mutations"]
    assert mutation["patchType"] == "ApplyConfiguration"
    expression = mutation["applyConfiguration"]["expression"]
    assert f'{{"{c.WATCH_LABEL}": "{c.WATCH_LABEL_VALUE}"}}' in expression
    env = rendered.env
    assert env["PODEIP_WATCH__SELECT_LABELED_PODS"] == "true"
    settings = Settings(
        cloud={"provider": "simulated"},  # type: ignore[arg-type]
        watch={"select_labeled_pods": env["PODEIP_WATCH__SELECT_LABELED_PODS"]},  # type: ignore[arg-type]
    )
    assert settings.watch.select_labeled_pods is True


def test_older_clusters_get_v1beta1_where_served_and_a_refusal_otherwise(render: Render) -> None:
    beta = render(
        sets=ON,
        kube_version="1.35.3",
        api_versions=["admissionregistration.k8s.io/v1beta1/MutatingAdmissionPolicy"],
    )
    assert beta.one("MutatingAdmissionPolicy", NAME)["apiVersion"] == "admissionregistration.k8s.io/v1beta1"
    with pytest.raises(HelmFailed, match="selectLabeledPods needs MutatingAdmissionPolicy"):
        render(sets=ON, kube_version="1.33.5")
    assert "MutatingAdmissionPolicy" not in render(kube_version="1.33.5").kinds()  # off: no refusal


@pytest.mark.parametrize(
    "wrong", ["podeip.watch.selectLabeledPods=yes", "podeip.watch.selectLabelledPods=true"]
)
def test_the_schema_refuses_wrong_watch_values(render: Render, wrong: str) -> None:
    with pytest.raises(HelmFailed):
        render(sets=[wrong])


def test_the_chart_lints_strictly_with_the_option_on(helm: Path) -> None:
    result = run_helm(helm, "lint", "--strict", "--set", "regionID=cn-hangzhou", "--set", ON[0], str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr
