"""We test these edges of the chart's values, each refused or accepted at `helm template` time
exactly as the operator's settings refuse or accept them:

- ``kubeClientQPS`` is a float: ``--set kubeClientQPS=7.5`` (which helm passes as a string)
  and a values file's 7.5 both reach the operator as 7.5; zero and non-numbers are refused;
- a missing ``regionID`` fails with a message naming it (unless the cloud endpoint is given);
- a ``clusterID`` containing "xxxx" (Alibaba's sample c11ba338192xxxxxxx, copied by many) is
  refused with the reason, by the chart and by the settings alike (one rule, one table).
"""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from chart.chartlib import HelmFailed, Render
from podeip.settings import Settings


def test_a_float_qps_is_accepted_from_set_and_from_a_file(render: Render, tmp_path: Path) -> None:
    assert render(sets=["kubeClientQPS=7.5"]).env["PODEIP_KUBE_CLIENT_QPS"] == "7.5"
    assert Settings(kube_client_qps="7.5", cloud={"provider": "simulated"}).kube_client_qps == 7.5
    for bad in ("kubeClientQPS=0", "kubeClientQPS=fast", "kubeClientQPS=-1"):
        with pytest.raises(HelmFailed, match="kubeClientQPS"):
            render(sets=[bad])


def test_a_missing_region_fails_at_template_time_with_its_name(render: Render) -> None:
    with pytest.raises(HelmFailed, match=r"regionID is required.*--set regionID=cn-hangzhou"):
        render(site=False)
    with pytest.raises(HelmFailed, match="regionID is required"):
        render(site=False, sets=["regionID="])
    # An explicit endpoint (a private cloud, the simulator) needs no region, as in the settings.
    rendered = render(site=False, sets=["podeip.cloud.vpcEndpoint=http://127.0.0.1:18080"])
    assert rendered.env["PODEIP_CLOUD__REGION_ID"] == ""


CLUSTER_IDS = [
    ("c11ba338192xxxxxxx", False),
    ("cXXXXabc", False),
    ("my-xxxxx-cluster", False),
    ("c4f2e1d0b9a8c7d6e5f4a3b2c1d0e9f8a", True),
    ("c-xxx-1", True),
    ("", True),
]


@pytest.mark.parametrize(("cluster_id", "accepted"), CLUSTER_IDS)
def test_placeholder_cluster_ids_are_refused_by_the_chart_and_the_settings_alike(
    render: Render, cluster_id: str, accepted: bool
) -> None:
    try:
        render("aenc-ack.yaml", sets=[f"clusterID={cluster_id}"])
        chart_accepts = True
    except HelmFailed as failure:
        assert "two clusters sharing a cluster ID would sweep each other's kept EIPs" in str(failure)
        chart_accepts = False
    try:
        Settings(cluster_id=cluster_id, cloud={"provider": "simulated"})
        settings_accept = True
    except pydantic.ValidationError as error:
        assert "two clusters sharing a cluster ID would sweep each other's kept EIPs" in str(error)
        settings_accept = False
    assert (chart_accepts, settings_accept) == (accepted, accepted)


def test_the_aenc_sample_as_pasted_is_refused_for_its_placeholder(render: Render) -> None:
    with pytest.raises(HelmFailed, match=r'clusterID "c11ba338192xxxxxxx" is a placeholder'):
        render("aenc-ack.yaml", sets=["clusterID=c11ba338192xxxxxxx"])
