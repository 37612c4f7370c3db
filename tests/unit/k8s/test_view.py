"""We test these aspects of the watch-fed view (``podeip.k8s.view``):

- an answer to our write goes in, and an older watch event does not overwrite it; a newer one
  does; resourceVersions that are not integers: the newer arrival wins;
- a DELETED event removes the entry, and a late event or answer of that object does not bring
  it back; an answer NotFound drops it; the answer to the removal of the last finalizer of a
  deleted PodEIP drops it;
- only pods that concern us are kept, and the watch's filter passes on no other: one that stops
  asking (and has no PodEIP) leaves; one
  with a PodEIP is kept without annotations; one the view did not keep is read once when a
  PodEIP appears for it (``observe``), and never otherwise;
- an event that changes nothing (a re-listing, the echo of our own write) enqueues nothing;
- the start-up listing keeps only what concerns us, drops what was gone before it (again after
  kopf listed anew: a pod deleted meanwhile leaves, and its key is enqueued), ignores older
  events of objects it did not have, and ``confirm`` reads the few entries the watch never
  delivered (NotFound drops them) before the view is ready;
- a Conflict on a write reads the PodEIP again, so that the next pass does not decide on the
  same stale entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from podeip import constants as c
from podeip.k8s import errors as kube_errors
from podeip.k8s.view import ClusterView, ViewedPodEIPs, ViewedPods
from podeip.reconcile.deps import asks_for_eip

ASKS = {c.PREFIX_K8S + c.POD_WITH_EIP: "true"}
KEY = ("ns", "web-0")


def pod(
    rv: str = "10", *, uid: str = "pod-1", annotations: dict[str, str] | None = None, ip: str = ""
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": KEY[1],
            "namespace": KEY[0],
            "uid": uid,
            "resourceVersion": rv,
            "annotations": ASKS if annotations is None else annotations,
        },
        "spec": {"nodeName": "node-a"},
        "status": {"phase": "Running", "podIP": ip},
    }


def podeip(rv: str = "10", *, uid: str = "peip-1", allocation_id: str = "", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{c.GROUP}/{c.VERSION}",
        "kind": c.KIND,
        "metadata": {"name": KEY[1], "namespace": KEY[0], "uid": uid, "resourceVersion": rv, **meta},
        "spec": {
            "allocationID": allocation_id,
            "allocationType": {"type": "Auto", "releaseStrategy": "Follow"},
        },
    }


@pytest.fixture
def changes() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def view(changes: list[tuple[str, str]]) -> ClusterView:
    return ClusterView(asks_for_eip=asks_for_eip, on_change=changes.append)


class Api:
    """A PodEIPs and Pods API over dicts, with listings by page, counting reads."""

    def __init__(
        self, pods: list[dict[str, Any]], podeips: list[dict[str, Any]], version: str = "50"
    ) -> None:
        self.pods = {(b["metadata"]["namespace"], b["metadata"]["name"]): b for b in pods}
        self.podeips = {(b["metadata"]["namespace"], b["metadata"]["name"]): b for b in podeips}
        self.version = version
        self.reads: list[tuple[str, str, str]] = []
        self.conflict = False

    async def _pages(self, items: list[dict[str, Any]]) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        for start in range(0, max(len(items), 1), 2):
            yield items[start : start + 2], self.version

    def pages(self, *, page_size: int = 500) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        return self._pages(list(self.podeips.values()))

    def pod_pages(self) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        return self._pages(list(self.pods.values()))

    async def get(self, namespace: str, name: str) -> dict[str, Any]:
        self.reads.append(("podeip", namespace, name))
        if (namespace, name) not in self.podeips:
            raise kube_errors.NotFound(status=404, reason="NotFound", message=name)
        return self.podeips[(namespace, name)]

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        self.reads.append(("pod", namespace, name))
        if (namespace, name) not in self.pods:
            raise kube_errors.NotFound(status=404, reason="NotFound", message=name)
        return self.pods[(namespace, name)]

    async def patch_status(
        self, namespace: str, name: str, patch: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        if (namespace, name) not in self.podeips:
            raise kube_errors.NotFound(status=404, reason="NotFound", message=name)
        return self.podeips[(namespace, name)]

    async def patch_metadata_and_spec(
        self, namespace: str, name: str, patch: Any, **_: Any
    ) -> dict[str, Any]:
        raise kube_errors.Conflict(status=409, reason="Conflict", message=name)

    async def remove_finalizer(self, namespace: str, name: str, finalizer: str, **_: Any) -> dict[str, Any]:
        return podeip("30", deletionTimestamp="2026-12-01T12:00:00Z", finalizers=[])


class PodApi(Api):
    def pages(self, *, page_size: int = 500) -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
        return self.pod_pages()


def apis(api: Api) -> tuple[Any, Any]:
    pods = PodApi.__new__(PodApi)
    pods.__dict__ = api.__dict__  # the same world, the pods' pages
    return pods, api


def test_an_older_event_never_overwrites_our_answer(view: ClusterView) -> None:
    view.put_podeip(podeip("120", allocation_id="eip-new"))  # our write's answer
    view.podeip_event("MODIFIED", podeip("118", allocation_id=""))  # an earlier change, late
    found = view.podeip(KEY)
    assert found is not None and found.spec.allocation_id == "eip-new"
    view.podeip_event("MODIFIED", podeip("121", allocation_id="eip-other"))
    found = view.podeip(KEY)
    assert found is not None and found.spec.allocation_id == "eip-other"


def test_versions_that_are_not_integers_take_the_newer_arrival(view: ClusterView) -> None:
    view.put_podeip(podeip("b", allocation_id="eip-1"))
    view.podeip_event("MODIFIED", podeip("a", allocation_id="eip-2"))
    found = view.podeip(KEY)
    assert found is not None and found.spec.allocation_id == "eip-2"


def test_a_deleted_object_is_never_brought_back(view: ClusterView, changes: list[tuple[str, str]]) -> None:
    view.podeip_event(None, podeip("10"))
    view.podeip_event("DELETED", podeip("12"))
    assert view.podeip(KEY) is None and changes == [KEY, KEY]
    view.put_podeip(podeip("11"))  # the answer of a write made before the deletion
    view.podeip_event("MODIFIED", podeip("11"))
    assert view.podeip(KEY) is None
    view.podeip_event("ADDED", podeip("13", uid="peip-2"))  # a new object of the same name
    found = view.podeip(KEY)
    assert found is not None and found.metadata.uid == "peip-2"


def test_the_answer_to_removing_the_last_finalizer_drops_the_podeip(view: ClusterView) -> None:
    view.put_podeip(podeip("20", deletionTimestamp="2026-12-01T12:00:00Z", finalizers=[c.FINALIZER]))
    view.put_podeip(podeip("21", deletionTimestamp="2026-12-01T12:00:00Z", finalizers=[]))
    assert view.podeip(KEY) is None
    view.podeip_event(
        "MODIFIED", podeip("20", deletionTimestamp="2026-12-01T12:00:00Z", finalizers=[c.FINALIZER])
    )
    assert view.podeip(KEY) is None


def test_only_pods_that_concern_us_are_kept(view: ClusterView) -> None:
    assert not view.watches(KEY, {}), "the watch's filter passes on no plain pod"
    view.pod_event("ADDED", pod("10", annotations={}))
    assert view.pod(KEY) is None
    view.pod_event("MODIFIED", pod("11"))
    assert view.pod(KEY) is not None
    assert view.watches(KEY, {}), "a kept pod that stops asking still reaches the handler"
    view.pod_event("MODIFIED", pod("12", annotations={}))  # the user removed the annotation
    assert view.pod(KEY) is None and not view.watches(KEY, {})
    view.podeip_event("ADDED", podeip("13"))
    view.pod_event("MODIFIED", pod("14", annotations={}))  # it has a PodEIP: it concerns us
    assert view.pod(KEY) is not None


def test_an_event_that_changes_nothing_enqueues_nothing(
    view: ClusterView, changes: list[tuple[str, str]]
) -> None:
    view.put_podeip(podeip("40"))  # our answer
    view.pod_event("MODIFIED", pod("41"))
    assert changes == [KEY, KEY]
    view.podeip_event("MODIFIED", podeip("40"))  # its echo
    view.pod_event(None, pod("41"))  # a re-listing
    assert changes == [KEY, KEY]


async def test_a_pod_the_view_did_not_keep_is_read_once_its_podeip_appears(view: ClusterView) -> None:
    api = Api([pod("10", annotations={})], [])
    pods, _ = apis(api)
    view.pod_event("ADDED", pod("10", annotations={}))
    assert await view.observe(KEY, pods) == (None, None) and api.reads == [], "no PodEIP: not ours"
    view.podeip_event("ADDED", podeip("11"))
    api.reads.clear()
    found, _ = await view.observe(KEY, pods)
    assert found is not None and found.uid == "pod-1"
    assert api.reads == [("pod", *KEY)]
    await view.observe(KEY, pods)
    assert api.reads == [("pod", *KEY)], "kept now: no second read"


async def test_the_start_up_listing_and_its_confirmation(view: ClusterView) -> None:
    other = pod("5", annotations={}) | {
        "metadata": {"name": "plain", "namespace": "ns", "uid": "p-2", "resourceVersion": "5"}
    }
    api = Api([pod("30", ip="10.0.0.5"), other], [podeip("31", allocation_id="eip-1")], version="50")
    pods, podeips = apis(api)
    view.podeip_event(
        "ADDED",
        podeip("7", uid="gone-before")
        | {"metadata": {"name": "gone", "namespace": "ns", "uid": "gone-before", "resourceVersion": "7"}},
    )
    await view.fill(pods, podeips)
    assert view.filled.is_set() and not view.ready.is_set()  # work may begin; not confirmed yet
    assert view.pod_unsure(KEY)  # known from the listing only: a pass reads it
    assert view.podeip(("ns", "gone")) is None, "gone before the listing"
    assert view.pod(("ns", "plain")) is None and view.pod(KEY) is not None
    view.podeip_event(
        "MODIFIED",
        podeip("8", uid="late")
        | {"metadata": {"name": "late", "namespace": "ns", "uid": "late", "resourceVersion": "8"}},
    )
    assert view.podeip(("ns", "late")) is None, (
        "an event older than the listing, of an object it did not have"
    )
    view.pod_event(None, pod("30", ip="10.0.0.5"))  # kopf's listing delivers the pod: confirmed
    del api.podeips[KEY]  # the PodEIP went between our listing and kopf's: never delivered
    await view.confirm(pods, podeips, patience=0.05, step=0.01)
    assert view.ready.is_set()
    assert view.podeip(KEY) is None and api.reads == [("podeip", *KEY)]
    assert view.pod(KEY) is not None


async def test_the_confirmation_waits_while_kopf_still_delivers_other_pods(view: ClusterView) -> None:
    """In a large cluster kopf's start-up listing delivers thousands of pods that concern us not
    (through the filter, ``watches``) before ours; patience runs out only while nothing at all
    comes. It used to run out after ``patience`` whatever came, and every entry not yet
    delivered was read one by one (5,000 PodEIPs: minutes of the client's whole budget)."""
    api = Api([pod("30", ip="10.0.0.5")], [podeip("31", allocation_id="eip-1")], version="50")
    pods, podeips = apis(api)
    await view.fill(pods, podeips)
    api.reads.clear()

    async def kopf() -> None:
        for i in range(20):  # 20 plain pods, one every 0.02 s: 0.4 s in all, patience 0.05 s
            view.watches(("ns", f"plain-{i}"), {})
            await asyncio.sleep(0.02)
        view.podeip_event(None, podeip("31", allocation_id="eip-1"))
        view.pod_event(None, pod("30", ip="10.0.0.5"))

    await asyncio.gather(kopf(), view.confirm(pods, podeips, patience=0.05, step=0.01))
    assert view.ready.is_set()
    assert api.reads == [], "everything came through kopf's listing: nothing read one by one"
    assert view.pod(KEY) is not None and view.podeip(KEY) is not None


async def test_writes_put_answers_in_and_a_conflict_reads_again(view: ClusterView) -> None:
    api = Api([], [podeip("60", allocation_id="eip-9")])
    _, raw = apis(api)
    podeips = ViewedPodEIPs(raw, view)
    view.podeip_event("ADDED", podeip("55"))
    with pytest.raises(kube_errors.Conflict):
        await podeips.patch_metadata_and_spec(*KEY, {"spec": {}}, resource_version="55")
    found = view.podeip(KEY)
    assert found is not None and found.spec.allocation_id == "eip-9" and api.reads == [("podeip", *KEY)]
    await podeips.remove_finalizer(*KEY, c.FINALIZER, resource_version="60")
    assert view.podeip(KEY) is None
    view.podeip_event("ADDED", podeip("70", uid="peip-3"))
    del api.podeips[KEY]
    with pytest.raises(kube_errors.NotFound):
        await podeips.patch_status(*KEY, {"status": "x"})
    assert view.podeip(KEY) is None


async def test_a_pod_write_answered_not_found_drops_the_pod(view: ClusterView) -> None:
    api = Api([], [])
    pods = ViewedPods(apis(api)[0], view)
    view.pod_event("ADDED", pod("10"))
    with pytest.raises(kube_errors.NotFound):
        await pods.get_pod(*KEY)
    assert view.pod(KEY) is None


async def test_after_kopf_lists_again_what_went_meanwhile_leaves_the_view(
    view: ClusterView, changes: list[tuple[str, str]]
) -> None:
    """A watch that could not resume: kopf lists again, and a pod deleted meanwhile sends no
    DELETED event. The view notices the listing and lists too; the pod leaves, its key is enqueued."""
    api = Api([pod("10")], [podeip("11")], version="20")
    pods, podeips = apis(api)
    await view.fill(pods, podeips)
    view.pod_event(None, pod("10"))
    view.podeip_event(None, podeip("11"))
    await view.confirm(pods, podeips, patience=0.05, step=0.01)
    view.podeip_event("MODIFIED", podeip("21"))  # streaming
    assert not view.relisted.is_set()
    del api.pods[KEY]  # deleted while the watch was down
    view.podeip_event(None, podeip("21"))  # kopf's new listing
    assert view.relisted.is_set()
    api.version = "30"
    changes.clear()
    await view.fill(pods, podeips)
    assert view.pod(KEY) is None and changes == [KEY]
    assert view.podeip(KEY) is not None


def test_the_last_state_of_a_deleted_podeip_never_drops_its_successor(view: ClusterView) -> None:
    """The same-name PodEIP made after the old one's finalizer went (a pod re-created under
    Follow) stays in the view when the old one's last state (finalizers emptied) comes late:
    dropping it would make its pod's pass create it again, and a Static claim's holder look gone."""
    view.put_podeip(podeip("40", uid="peip-new"))  # created after the old one went
    view.podeip_event(
        "MODIFIED", podeip("30", uid="peip-1", deletionTimestamp="2026-12-01T12:00:00Z", finalizers=[])
    )
    found = view.podeip(KEY)
    assert found is not None and found.metadata.uid == "peip-new"


async def test_a_pod_older_than_the_listing_read_for_a_new_podeip_is_kept(
    view: ClusterView, changes: list[tuple[str, str]]
) -> None:
    """Regression (found on branch ``label``): a pod listed at start-up that did not concern us
    was read when a PodEIP appeared for it, but the answer was refused as older than the listing
    (its resourceVersion is): the view never kept it, so every pass read it again and the
    collector, finding no pod in the view, took it as needing a pass at every period."""
    api = Api([pod("5", annotations={})], [], version="50")
    pods, podeips = apis(api)
    await view.fill(pods, podeips)
    assert view.pod(KEY) is None, "nothing to us yet"
    view.podeip_event("ADDED", podeip("60"))
    changes.clear()
    first, _ = await view.observe(KEY, pods)
    second, _ = await view.observe(KEY, pods)
    assert first is not None and second is not None and second.uid == "pod-1"
    assert view.pod(KEY) is not None and not view.pod_unsure(KEY), "kept: the read is current"
    assert api.reads == [("pod", *KEY)], "read once, kept from then on"
    assert changes == [KEY]
