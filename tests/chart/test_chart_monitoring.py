"""We test these aspects of the chart's optional monitoring: the PrometheusRule and the Grafana
dashboard are off by default and render when enabled; every alert has an expression, a severity,
a summary and a runbook line in the project README (and every README runbook line names an
alert); the expressions read only metrics the operator exports (or Prometheus's `up` of the
chart's metrics Service), with balanced brackets; the quota and permission alerts match every
error code the one error table classes as quota or permission, and no throttling, transient or
conflict code; thresholds follow the values; the dashboard ConfigMap carries the sidecar label
and valid JSON whose panels read exported metrics only."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from chart.chartlib import RELEASE, ROOT, Render
from podeip import constants as c
from podeip.cloud import errors
from podeip.cloud.alibaba.openapi import codes

EXPORTED = {value for name, value in vars(c).items() if name.startswith("METRIC_") and isinstance(value, str)}
MONITORING = ["prometheusRule.enabled=true", "grafanaDashboard.enabled=true", "serviceMonitor.enabled=true"]
FULLNAME = f"{RELEASE}-podeip-operator"


def rules(render: Render, *sets: str) -> dict[str, dict]:  # type: ignore[type-arg]
    rule = render(sets=[*MONITORING, *sets]).one("PrometheusRule")
    (group,) = rule["spec"]["groups"]
    return {item["alert"]: item for item in group["rules"]}


def metrics_of(expr: str) -> set[str]:
    """Metric names in a PromQL expression (identifiers followed by a selector or a range)."""
    names = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{", expr))
    return {name.removesuffix("_bucket") for name in names}


def error_code_matcher(expr: str) -> Callable[[str], bool]:
    """The expression's ``error_code=~`` (and optional ``!~``) matchers, as PromQL applies them
    (fully anchored)."""

    def pattern(op: str) -> re.Pattern[str] | None:
        found = re.findall(rf'error_code{op}"((?:[^"\\\\]|\\\\.)*)"', expr)
        return re.compile(found[0].encode().decode("unicode_escape")) if found else None

    wanted, unwanted = pattern("=~"), pattern("!~")
    assert wanted is not None
    return lambda code: bool(wanted.fullmatch(code)) and not (unwanted and unwanted.fullmatch(code))


def test_monitoring_is_off_by_default(render: Render) -> None:
    kinds = render().kinds()
    assert "PrometheusRule" not in kinds
    assert not [obj for obj in render().all("ConfigMap") if obj["metadata"]["name"].endswith("-dashboard")]


def test_every_alert_is_complete_and_has_a_runbook_line_in_the_readme(render: Render) -> None:
    found = rules(render)
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Alerts", 1)[1].split("\n## ", 1)[0]
    runbooks = set(re.findall(r"^\| `(PodEIP\w+)` \|", section, flags=re.MULTILINE))
    assert runbooks == set(found)
    for name, rule in found.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert rule["annotations"]["runbook"] == f"README, Alerts: {name}"
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), name
        assert metrics_of(expr) <= EXPORTED | {"up"}, (name, metrics_of(expr) - EXPORTED)
    for must in ("PodEIPKeptUnbound", "PodEIPOrphanCandidates", "PodEIPStuckTerminating",
                 "PodEIPQuotaExceeded", "PodEIPCloudPermissionDenied", "PodEIPReconcileErrors"):  # fmt: skip
        assert must in found


def test_the_operator_down_alert_watches_the_charts_metrics_service(render: Render) -> None:
    rendered = render(sets=MONITORING)
    service = next(s for s in rendered.all("Service") if s["metadata"]["name"].endswith("-metrics"))
    expr = rules(render)["PodEIPOperatorDown"]["expr"]
    assert f'job="{service["metadata"]["name"]}"' in expr


@pytest.mark.parametrize(
    ("alert", "classes"),
    [
        ("PodEIPQuotaExceeded", (errors.QuotaExceeded,)),
        ("PodEIPCloudPermissionDenied", (errors.Forbidden,)),
    ],
)
def test_code_alerts_match_their_classes_in_the_error_table(
    render: Render, alert: str, classes: tuple[type[errors.CloudError], ...]
) -> None:
    matches = error_code_matcher(rules(render)[alert]["expr"])
    for code, (cls, _) in codes.TABLE.items():
        assert matches(code) == issubclass(cls, classes), (alert, code, cls.__name__)
    # Codes outside the table are classed by family: the alert must see those of its classes.
    for family, cls in codes.PREFIXES:
        example = family + ("Example" if family.endswith(".") else ".Example")
        assert matches(example) == issubclass(cls, classes), (alert, example)
    for family, cls in codes.SUFFIXES:
        assert matches(f"Example{family}") == issubclass(cls, classes), (alert, family)


def test_thresholds_follow_the_values(render: Render) -> None:
    found = rules(render, "prometheusRule.unboundMinutes=90", "prometheusRule.terminatingMinutes=7")
    assert found["PodEIPKeptUnbound"]["expr"].endswith("> 5400")
    assert found["PodEIPStuckTerminating"]["expr"].endswith("> 420")
    assert "7 minutes" in found["PodEIPStuckTerminating"]["annotations"]["summary"]


def test_the_dashboard_configmap_is_for_the_grafana_sidecar(render: Render) -> None:
    rendered = render(sets=[*MONITORING, "grafanaDashboard.namespace=monitoring"])
    config_map = rendered.one("ConfigMap", f"{FULLNAME}-dashboard")
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (text,) = config_map["data"].values()
    dashboard = json.loads(text)
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels) >= 8
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    used = set().union(*(metrics_of(e) for e in exprs))
    assert used <= EXPORTED, used - EXPORTED
    assert {c.METRIC_EIPS, c.METRIC_CLOUD_CALLS, c.METRIC_UNBOUND_SECONDS} <= used
