"""We test these aspects of the chart's TKE, expiry and cascade values: each maps to its setting
(and the settings object accepts what the chart renders); the expiry is unset by default and
refused by the schema when it is no Go duration; cascade reclaim adds get/list/watch on
StatefulSets (and the listed custom kinds) and nothing else, and only when it is on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chart.chartlib import HelmFailed, Render
from podeip.settings import Settings


def rules(rendered: object) -> list[dict[str, object]]:
    role = rendered.one("ClusterRole")  # type: ignore[attr-defined]
    return list(role["rules"])


def test_defaults_read_tke_keys_no_expiry_no_cascade_and_no_workload_rbac(render: Render) -> None:
    rendered = render()
    env = rendered.env
    assert env["PODEIP_TKE_ANNOTATIONS"] == "true" and env["PODEIP_CASCADE_RECLAIM"] == "false"
    assert "PODEIP_KEPT_EIP_EXPIRY" not in env
    assert not [r for r in rules(rendered) if "statefulsets" in r["resources"]]  # type: ignore[operator]


def test_cascade_grants_only_get_list_watch_on_the_owner_kinds(render: Render) -> None:
    rendered = render(
        sets=[
            "podeip.cascadeReclaim=true",
            "podeip.keptEipExpiry=720h",
            "podeip.tkeAnnotations=false",
            "podeip.cascadeOwnerRules[0].apiGroups[0]=game.kruise.io",
            "podeip.cascadeOwnerRules[0].resources[0]=gameserversets",
        ]
    )
    env = rendered.env
    assert (env["PODEIP_CASCADE_RECLAIM"], env["PODEIP_KEPT_EIP_EXPIRY"], env["PODEIP_TKE_ANNOTATIONS"]) == (
        "true",
        "720h",
        "false",
    )
    owners = [r for r in rules(rendered) if r["resources"] in (["statefulsets"], ["gameserversets"])]
    assert owners == [
        {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["game.kruise.io"], "resources": ["gameserversets"], "verbs": ["get", "list", "watch"]},
    ]
    settings = Settings(
        cloud={"provider": "simulated"},  # type: ignore[arg-type]
        kept_eip_expiry=env["PODEIP_KEPT_EIP_EXPIRY"],  # type: ignore[arg-type]
        cascade_reclaim=env["PODEIP_CASCADE_RECLAIM"],  # type: ignore[arg-type]
        tke_annotations=env["PODEIP_TKE_ANNOTATIONS"],  # type: ignore[arg-type]
    )
    assert settings.kept_eip_expiry == timedelta(hours=720) and settings.cascade_reclaim
    assert not settings.tke_annotations


def test_the_schema_refuses_an_expiry_that_is_no_go_duration(render: Render) -> None:
    with pytest.raises(HelmFailed):
        render(sets=["podeip.keptEipExpiry=30 days"])
