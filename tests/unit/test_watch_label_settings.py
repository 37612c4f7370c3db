"""We test how ``watch.select_labeled_pods`` (``PODEIP_WATCH__SELECT_LABELED_PODS``, Helm
``podeip.watch.selectLabeledPods``) reaches kopf: off by default, with no server-side selector
on any watch; on, the pod watch (and only it: not PodEIPs, not StatefulSets) asks the API server
for ``podeip-controller.alibabacloud.com/eip=true``; nonsense is refused at startup."""

from __future__ import annotations

import pytest
from kopf._cogs.structs import references
from pydantic import ValidationError

from podeip import constants as c
from podeip.app import kopf_settings
from podeip.settings import Settings

PODS = references.Resource("", "v1", "pods", kind="Pod", namespaced=True)
PODEIPS = references.Resource(c.GROUP, c.VERSION, c.PLURAL, kind=c.KIND, namespaced=True)
STATEFULSETS = references.Resource("apps", "v1", "statefulsets", kind="StatefulSet", namespaced=True)


def selectors(settings: Settings) -> dict[str, list[str]]:
    found = kopf_settings(settings).watching.label_selectors
    return {r.plural: list(found.collect(r)) for r in (PODS, PODEIPS, STATEFULSETS)}


def test_off_by_default_no_watch_selects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODEIP_WATCH__SELECT_LABELED_PODS", raising=False)
    settings = Settings(cloud={"provider": "simulated"})  # type: ignore[arg-type]
    assert settings.watch.select_labeled_pods is False
    assert selectors(settings) == {"pods": [], "podeips": [], "statefulsets": []}


def test_on_only_the_pod_watch_selects_on_the_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODEIP_WATCH__SELECT_LABELED_PODS", "true")
    settings = Settings(cloud={"provider": "simulated"})  # type: ignore[arg-type]
    assert selectors(settings) == {
        "pods": ["podeip-controller.alibabacloud.com/eip=true"],
        "podeips": [],
        "statefulsets": [],
    }


def test_nonsense_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODEIP_WATCH__SELECT_LABELED_PODS", "sometimes")
    with pytest.raises(ValidationError):
        Settings(cloud={"provider": "simulated"})  # type: ignore[arg-type]
