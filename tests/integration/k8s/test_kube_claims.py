"""We test these aspects of allocation-ID claims on real Leases: the first claimant wins and
the Lease names the holder; a second claimant is told the current holder and does not replace
it; re-claiming one's own ID is harmless; only the holder can release, after which another
PodEIP can claim; releasing an unclaimed ID succeeds; get_holder reads the current holder."""

from __future__ import annotations

from podeip.k8s.client import KubeClient
from podeip.k8s.leases import Claims, claim_name, holder_identity


async def test_the_first_claim_wins_and_the_second_learns_the_holder(
    kube: KubeClient, namespace: str
) -> None:
    claims = Claims(kube, namespace=namespace)
    first = holder_identity(namespace="apps", name="web-0", uid="uid-0")
    second = holder_identity(namespace="apps", name="web-1", uid="uid-1")
    assert await claims.claim("eip-Bp1Static", holder=first) == first
    assert await claims.claim("eip-Bp1Static", holder=second) == first
    assert await claims.claim("eip-Bp1Static", holder=first) == first
    assert await claims.get_holder("eip-Bp1Static") == first

    lease = await kube.get(
        f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{claim_name('eip-Bp1Static')}"
    )
    assert lease["metadata"]["name"] == "podeip-claim-eip-bp1static"
    assert (
        lease["metadata"]["annotations"]["podeip-controller.alibabacloud.com/allocation-id"]
        == "eip-Bp1Static"
    )
    assert lease["spec"]["holderIdentity"] == "apps/web-0/uid-0"


async def test_only_the_holder_can_release(kube: KubeClient, namespace: str) -> None:
    claims = Claims(kube, namespace=namespace)
    holder, other = "apps/web-0/uid-0", "apps/web-1/uid-1"
    await claims.claim("eip-1", holder=holder)
    assert await claims.release_claim("eip-1", holder=other) is False
    assert await claims.get_holder("eip-1") == holder

    assert await claims.release_claim("eip-1", holder=holder) is True
    assert await claims.get_holder("eip-1") is None
    assert await claims.claim("eip-1", holder=other) == other


async def test_releasing_an_unclaimed_id_succeeds(kube: KubeClient, namespace: str) -> None:
    claims = Claims(kube, namespace=namespace)
    assert await claims.release_claim("eip-never", holder="apps/web-0/uid-0") is True
    assert await claims.get_holder("eip-never") is None
