"""We test the watch-fed view with a selecting pod watch (``pod_label``; settings
``watch.select_labeled_pods``, issue 13 item 4):

- the start-up listing asks for labelled pods only (``labelSelector``);
- the pod of a PodEIP that the view does not hold is unsure: read by name; if unlabelled it is
  kept but stays unsure (read again at every pass, since no event will come), until a read
  answers NotFound, after which it is not read again (and a new event of the key clears that);
- a DELETED event without ``deletionTimestamp`` (what a selecting watch sends when a pod loses
  the label, with the previous object) is not a deletion: the UID is not remembered as gone and
  the pod is read again; one with ``deletionTimestamp`` is the pod's deletion;
- without ``pod_label`` a PodEIP's pod the start-up listing lacks is gone (not read); with it,
  it is read by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from podeip import constants as c
from podeip.k8s import errors as kube_errors
from podeip.k8s.view import ClusterView
from podeip.reconcile.deps import asks_for_eip

ASKS = {c.PREFIX_K8S + c.POD_WITH_EIP: "true"}
KEY = ("ns", "web-0")
LABEL = (c.WATCH_LABEL, c.WATCH_LABEL_VALUE)


def pod(rv: str = "10", *, labelled: bool = True, **meta: Any) -> dict[str, Any]:
    labels = {c.WATCH_LABEL: "true"} if labelled else {}
    return {
        "metadata": {"name": KEY[1], "namespace": KEY[0], "uid": "pod-1", "resourceVersion": rv,
                     "annotations": ASKS, "labels": labels, **meta},
        "spec": {"nodeName": "node-a"},
        "status": {"phase": "Running", "podIP": "10.0.0.5"},
    }  # fmt: skip


def podeip(rv: str = "10") -> dict[str, Any]:
    return {
        "apiVersion": f"{c.GROUP}/{c.VERSION}",
        "kind": c.KIND,
        "metadata": {"name": KEY[1], "namespace": KEY[0], "uid": "peip-1", "resourceVersion": rv},
        "spec": {"allocationID": "eip-1", "allocationType": {"type": "Auto", "releaseStrategy": "Follow"}},
    }


class Pods:
    def __init__(self, body: dict[str, Any] | None) -> None:
        self.body = body
        self.reads = 0
        self.selectors: list[str | None] = []

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        self.reads += 1
        if self.body is None:
            raise kube_errors.NotFound(status=404, reason="NotFound", message=name)
        return self.body

    async def _pages(self) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        yield [], "50"

    def pages(
        self, *, page_size: int = 500, label_selector: str | None = None
    ) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        self.selectors.append(label_selector)
        return self._pages()


@pytest.fixture
def view() -> ClusterView:
    selecting = ClusterView(asks_for_eip=asks_for_eip, pod_label=LABEL)
    selecting.podeip_event("ADDED", podeip())
    return selecting


async def test_the_listing_asks_for_labelled_pods_only(view: ClusterView) -> None:
    pods = Pods(None)
    await view.fill(pods, Pods(None), page_size=10)  # type: ignore[arg-type]
    assert pods.selectors == [c.WATCH_LABEL_SELECTOR]


async def test_an_unlabelled_pod_of_a_podeip_is_read_at_every_pass_until_gone(view: ClusterView) -> None:
    pods = Pods(pod(labelled=False))
    for reads in (1, 2):
        found, _ = await view.observe(KEY, pods)  # type: ignore[arg-type]
        assert found is not None and found.uid == "pod-1" and pods.reads == reads
    pods.body = None
    found, _ = await view.observe(KEY, pods)  # type: ignore[arg-type]
    assert found is None and pods.reads == 3
    found, _ = await view.observe(KEY, pods)  # type: ignore[arg-type]
    assert found is None and pods.reads == 3  # gone is gone: no read per pass
    view.pod_event("ADDED", pod("20"))  # a labelled pod of that name
    assert view.pod(KEY) is not None and not view.pod_unsure(KEY)


async def test_a_labelled_pod_read_once_is_watched_from_then_on(view: ClusterView) -> None:
    pods = Pods(pod())
    await view.observe(KEY, pods)  # type: ignore[arg-type]
    await view.observe(KEY, pods)  # type: ignore[arg-type]
    assert pods.reads == 1


async def test_a_lost_label_is_not_a_deletion(view: ClusterView) -> None:
    view.pod_event("ADDED", pod("10"))
    view.pod_event("DELETED", pod("11"))  # the previous object, still labelled, at a new version
    assert view.pod(KEY) is None and view.pod_unsure(KEY)
    pods = Pods(pod("11", labelled=False))
    found, _ = await view.observe(KEY, pods)  # type: ignore[arg-type]
    assert found is not None and pods.reads == 1  # its UID was not remembered as gone


async def test_a_deletion_with_deletion_timestamp_is_the_pods_deletion(view: ClusterView) -> None:
    view.pod_event("ADDED", pod("10"))
    view.pod_event("DELETED", pod("12", deletionTimestamp="2026-12-01T12:00:00Z"))
    assert view.pod(KEY) is None and not view.pod_unsure(KEY)
    pods = Pods(pod("13"))
    found, _ = await view.observe(KEY, pods)  # type: ignore[arg-type]
    assert found is None and pods.reads == 0


class Listed(Pods):
    async def _pages(self) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        yield ([self.body] if self.body else []), "50"


@pytest.mark.parametrize("pod_label", [None, LABEL])
async def test_a_podeips_pod_the_listing_lacks_is_gone_only_without_a_label(
    pod_label: tuple[str, str] | None,
) -> None:
    """Without a label the listing has every pod: one it lacks is gone, and not read. With a
    label it has only the labelled ones: the pod is read by name (here: unlabelled, alive)."""
    view = ClusterView(asks_for_eip=asks_for_eip, pod_label=pod_label)
    await view.fill(Pods(None), Listed(podeip()), page_size=10)  # type: ignore[arg-type]
    pods = Pods(pod(labelled=False))
    found, _ = await view.observe(KEY, pods)  # type: ignore[arg-type]
    if pod_label is None:
        assert found is None and pods.reads == 0 and not view.pod_unsure(KEY)
    else:
        assert found is not None and pods.reads == 1 and view.pod_unsure(KEY)


@pytest.mark.parametrize("pod_label", [None, LABEL])
async def test_a_pod_older_than_the_listing_read_for_a_new_podeip_is_kept(
    pod_label: tuple[str, str] | None,
) -> None:
    """Regression: the read's answer was refused as "older than the listing" (its
    resourceVersion is), so the next pass took the live pod for gone and did not read it."""
    view = ClusterView(asks_for_eip=asks_for_eip, pod_label=pod_label)
    plain = pod("5", labelled=False)
    plain["metadata"]["annotations"] = {}  # listed, but nothing to us yet
    pods = Listed(plain)
    await view.fill(pods, Pods(None), page_size=10)  # type: ignore[arg-type]
    view.podeip_event("ADDED", podeip("60"))
    first, _ = await view.observe(KEY, pods)  # type: ignore[arg-type]
    second, _ = await view.observe(KEY, pods)  # type: ignore[arg-type]
    assert first is not None and second is not None and second.uid == "pod-1"
    assert pods.reads == (1 if pod_label is None else 2)  # unlabelled: read at every pass
