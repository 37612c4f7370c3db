"""The operator's in-memory view of pods and PodEIPs: what the watch delivered, and what the API
server answered to our own writes. A reconcile pass reads the world here, not from the API server.

**Our own cache, not kopf's ``@kopf.index``**, for four reasons:

- *Our writes' answers go into the view.* Every write of a PodEIP or a pod (annotations,
  status, conditions, finalizer) returns the object as stored; :class:`ViewedPodEIPs` and
  :class:`ViewedPods` put that answer in at once, so the next pass sees what we wrote even before
  its watch event arrives. kopf's indexes are written only by kopf, from events.
- *An older event never overwrites a newer answer.* Our answer (say resourceVersion 120) often
  arrives before the watch event of an earlier change (118). Each entry keeps its
  resourceVersion and is replaced only by one at least as new. resourceVersions are compared as
  integers when both parse: Kubernetes calls them opaque, but an API server backed by etcd
  gives the etcd revision, one counter for the whole cluster that grows with every write. That
  is an etcd property we rely on; when either does not parse, the newer arrival wins.
- *Memory.* kopf holds every object's worker, with its body, until all indexes are filled
  (its guarantee: indexes are complete before any other handler runs). An index on pods would
  keep every pod body of the cluster alive at start-up, which is what the paged listing and
  short-lived workers (``app.kopf_settings``) avoid. Here only pods that concern us are kept,
  as :class:`~podeip.api.pods.PodView` (the fields the operator reads); the watch's filter
  (:meth:`ClusterView.watches`) passes on nothing else, so kopf runs no handler for other pods.
- *Layers.* The reconciler must not import kopf (``pyproject.toml`` import contracts), and the
  in-process harness feeds this view as a watch would, without kopf.

**Start-up.** kopf does not tell when its start-up listing is over (its own signal exists only
for indexes, see above). So the view lists both resources itself, page by page (PodEIPs first,
so that a pod with a PodEIP counts as ours), and passes start only once it has (``ready``). A
listing is a snapshot at its resourceVersion L: an event older than L for a key the listing did
not have is of an object that was gone by then, and is ignored. Entries of our listing are
*unconfirmed* until kopf's stream delivers an event of the same object (its start-up listing
does for every object); one that kopf never delivers was deleted between our listing and
kopf's, and :meth:`ClusterView.confirm` reads it once (NotFound drops it) before ``ready``.
Passes may begin before that, once the listing is in (``filled``): kopf takes its time to
deliver a large cluster (25,000 pods: about 45 s), and a pass reads the pod of its key once if
the view knows it only from the listing (``observe``); a PodEIP of the listing is a snapshot
taken moments before, and a write to one gone since answers NotFound, which drops it.
The view is filled whether or not this instance leads: a standby keeps it fed, so a takeover
starts with a full view. kopf lists again when a watch cannot resume (410 Gone after a long
disconnection; rare, since it asks for bookmarks); an object deleted meanwhile then sends no
DELETED event. A listed event (no event type) after start-up sets ``relisted``, and the view
lists again: its snapshot is newer than kopf's, so what it lacks is gone.

Deletions: a DELETED event removes the entry and remembers the UID, so that a late answer or
event of the deleted object does not bring it back. A write answered NotFound drops the entry.

**A selecting pod watch** (``pod_label``, settings ``watch.select_labeled_pods``, issue 13): the
watch and the listing see only pods with that label. The view then cannot tell a gone pod from
an unlabelled one (a PodEIP whose pod the listing lacks is not known gone), so the pod of a
PodEIP that the view does not hold is read by name (and, if unlabelled, again at every pass,
which the collector runs once a period: no event will tell of its changes), until a read
answers NotFound. The API server sends DELETED, with the *previous* object, when a pod loses
the label: only a DELETED object with a ``deletionTimestamp`` is taken as the pod's deletion;
any other is dropped from the view and read again if it has a PodEIP. So a pod with a PodEIP
keeps its EIP whether or not it is labelled; what an unlabelled pod lacks is being seen when
it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from podeip.api.podeip import PodEIP
from podeip.api.pods import PodView
from podeip.k8s.client import Body, Items
from podeip.k8s.errors import Conflict, NotFound
from podeip.k8s.podeips import PodEIPs
from podeip.k8s.pods import Pods

logger = logging.getLogger(__name__)

Key = tuple[str, str]
T = TypeVar("T")

#: UIDs of deleted objects remembered, so that a late event or answer cannot revive them.
GONE_REMEMBERED = 10_000
#: Seconds without progress the start-up waits for kopf to deliver every object of our listing
#: before it reads the ones still missing (deleted between the two listings) one by one.
CONFIRM_PATIENCE = 10.0


def at_least_as_new(candidate: str, current: str) -> bool:
    """Whether an object at resourceVersion ``candidate`` may replace one at ``current``."""
    try:
        return int(candidate) >= int(current)
    except ValueError:
        return True  # not etcd revisions: the newer arrival wins


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def key_of(body: Mapping[str, Any]) -> Key:
    meta = _meta(body)
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


@dataclass
class _Entry(Generic[T]):
    value: T
    version: str
    uid: str
    #: False while the object is known only from our own listing (see the module docstring).
    confirmed: bool = True


class _Table(Generic[T]):
    """One resource's entries, keyed by namespace and name."""

    def __init__(self, parse: Callable[[Mapping[str, Any]], T]) -> None:
        self.parse = parse
        self.entries: dict[Key, _Entry[T]] = {}
        #: The resourceVersion of our last listing (see the module docstring).
        self.floor = ""

    def put(
        self, body: Mapping[str, Any], *, confirmed: bool, gone: Mapping[str, None], fresh: bool = False
    ) -> bool:
        """Store the object unless what is stored is newer; True if the entry changed. ``fresh``:
        an answer of the API server (as of now), which the listing's floor does not apply to."""
        meta = _meta(body)
        key, uid, version = key_of(body), str(meta.get("uid") or ""), str(meta.get("resourceVersion") or "")
        if uid and uid in gone:
            return False
        current = self.entries.get(key)
        if current is not None and not at_least_as_new(version, current.version):
            if confirmed and current.uid == uid:
                current.confirmed = True  # kopf's stream knows the object: it will deliver its deletion
            return False
        if (
            current is None
            and not fresh
            and version
            and self.floor
            and not at_least_as_new(version, self.floor)
        ):
            return False  # older than our listing, which did not have it: gone since
        changed = current is None or current.version != version or not version
        try:
            value = self.parse(body)
        except ValueError as error:  # pydantic's ValidationError: a PodEIP written by hand
            logger.warning("%s/%s is not valid, left out of the view: %s", *key, error)
            self.entries.pop(key, None)
            return current is not None
        self.entries[key] = _Entry(
            value,
            version,
            uid,
            confirmed or (current is not None and current.confirmed and current.uid == uid),
        )
        return changed

    def drop(self, key: Key, uid: str = "") -> bool:
        current = self.entries.get(key)
        if current is None or (uid and current.uid != uid):
            return False
        del self.entries[key]
        return True


class ClusterView:
    """Pods that concern us (they ask for an EIP, or have a PodEIP) and every PodEIP.

    ``asks_for_eip`` tells from a pod's annotations whether it asks (the controllers' rule);
    ``on_change`` is called with the key of every entry that changed (the work queue's ``add``).
    """

    def __init__(
        self,
        *,
        asks_for_eip: Callable[[Mapping[str, str]], bool],
        on_change: Callable[[Key], None] = lambda key: None,
        on_gone: Callable[[Key], None] | None = None,
        pod_label: tuple[str, str] | None = None,
    ) -> None:
        self.asks_for_eip = asks_for_eip
        self.on_change = on_change
        #: Called instead of ``on_change`` for a pod's DELETED event (default: ``on_change``): the
        #: work queue's urgent add, which breaks any hold of the key, since the pod's IP may be
        #: given to another pod and its EIP must be unbound at once (reconcile/queue.py).
        self.on_gone = on_gone
        #: Events kopf's streams have delivered (pods through the filter, ``watches``): while it
        #: grows, kopf's start-up listing is still being delivered (``confirm``'s patience).
        self.delivered = 0
        #: The label (key, value) the pod watch selects on; None: it sees every pod.
        self.pod_label = pod_label
        self._pods: _Table[PodView] = _Table(PodView.from_body)
        self._podeips: _Table[PodEIP] = _Table(PodEIP.model_validate)
        #: Keys of PodEIPs whose pod the view knows to be gone (deleted, not listed, NotFound;
        #: with ``pod_label``, "not listed" is not known gone).
        self._absent: set[Key] = set()
        self._gone: OrderedDict[str, None] = OrderedDict()
        #: Set once our start-up listing is in (``fill``); ``ready`` once kopf's stream has
        #: confirmed it (``confirm``). Work may begin at ``filled``: see the module docstring.
        self.filled = asyncio.Event()
        self.ready = asyncio.Event()
        #: Set when kopf lists a resource again after start-up (a watch that could not resume):
        #: objects deleted meanwhile send no DELETED event, so the view lists again (``fill``).
        self.relisted = asyncio.Event()
        #: The resources whose watch streams (an event with a type came): listed events after
        #: that are a new listing, not the end of the start-up one.
        self._streaming: set[str] = set()

    # ---- reads -------------------------------------------------------------------------------
    def pod(self, key: Key) -> PodView | None:
        entry = self._pods.entries.get(key)
        return entry.value if entry is not None else None

    def podeip(self, key: Key) -> PodEIP | None:
        entry = self._podeips.entries.get(key)
        return entry.value if entry is not None else None

    def podeips(self) -> list[PodEIP]:
        return [entry.value for entry in self._podeips.entries.values()]

    def podeip_keys(self) -> Iterator[Key]:
        return iter(list(self._podeips.entries))

    def has_podeip(self, key: Key) -> bool:
        return key in self._podeips.entries

    def pod_unsure(self, key: Key) -> bool:
        """Whether the view cannot vouch for the pod of a PodEIP: one it does not keep and does
        not know to be gone (it did not concern us until a PodEIP appeared: the watch passes on
        only pods that concern us), or one known only from our listing."""
        entry = self._pods.entries.get(key)
        if entry is None:  # (without a PodEIP, a pod that does not ask is nothing to us)
            return key in self._podeips.entries and key not in self._absent
        return not entry.confirmed

    @property
    def pod_selector(self) -> str | None:
        return None if self.pod_label is None else "=".join(self.pod_label)

    def watched(self, body: Mapping[str, Any]) -> bool:
        """Whether the pod watch delivers this pod's changes (all pods, or only the labelled)."""
        if self.pod_label is None:
            return True
        labels = _meta(body).get("labels")
        return isinstance(labels, Mapping) and labels.get(self.pod_label[0]) == self.pod_label[1]

    def podeip_unsure(self, key: Key) -> bool:
        entry = self._podeips.entries.get(key)
        return entry is not None and not entry.confirmed

    async def observe(self, key: Key, pods: Pods) -> tuple[PodView | None, PodEIP | None]:
        """The pod and the PodEIP of a key, for a pass: from the view, without a request, except
        for a pod the view cannot vouch for (:meth:`pod_unsure`: rare, never at steady state),
        which is read once and kept from then on."""
        pod = self.pod(key)
        if self.pod_unsure(key):
            try:
                known = key in self._pods.entries
                body = await pods.get_pod(*key)
                pod = PodView.from_body(body)
                # It concerns us now (its PodEIP is here); the read is current, even when the pod
                # is older than our listing, which did not keep it. An unlabelled pod under a
                # selecting watch stays unconfirmed: no event will come, it is read at every pass.
                self.put_pod(body, confirmed=self.watched(body), fresh=True)
                if not known and not self.watched(body):
                    logger.warning(
                        "pod %s/%s has a PodEIP but not the label %s: its changes and its deletion "
                        'are not watched (README "Watching only labelled pods"); label it',
                        *key,
                        self.pod_selector,
                    )
            except NotFound:
                self.drop_pod(key)
                pod = None
        return pod, self.podeip(key)

    def __len__(self) -> int:
        return len(self._podeips.entries)

    def sizes(self) -> dict[str, int]:
        return {"pods": len(self._pods.entries), "podeips": len(self._podeips.entries)}

    # ---- the watch ---------------------------------------------------------------------------
    def concerns(self, body: Mapping[str, Any]) -> bool:
        annotations = _meta(body).get("annotations")
        return self.watches(key_of(body), annotations if isinstance(annotations, Mapping) else {}, kept=False)

    def watches(self, key: Key, annotations: Mapping[str, str], *, kept: bool = True) -> bool:
        """Whether a pod's events matter: it asks for an EIP, has a PodEIP, or (``kept``) is in
        the view (so that one that stops asking leaves it). The watch's filter."""
        self.delivered += 1  # kopf's stream makes progress (plain pods included): ``confirm``
        return (
            self.asks_for_eip(annotations)
            or key in self._podeips.entries
            or (kept and key in self._pods.entries)
        )

    def pod_event(self, kind: str | None, body: Mapping[str, Any]) -> None:
        """A watch event of a pod (``kind``: ADDED, MODIFIED, DELETED, or None when listed)."""
        key, uid = key_of(body), str(_meta(body).get("uid") or "")
        self._notice_listing("pods", kind)
        if kind == "DELETED":
            left = self.pod_label is not None and not _meta(body).get("deletionTimestamp")
            if left:  # a selecting watch's DELETED of a lost label (see the module docstring)
                if self._pods.drop(key, uid):
                    self.on_change(key)  # its pass reads it, if it has a PodEIP
                return
            self._forget(uid)
            self._gone_pod(key)
            if self._pods.drop(key, uid):
                (self.on_gone or self.on_change)(key)
            return
        if self.concerns(body):
            self.put_pod(body, confirmed=True)
            return
        if self._pods.drop(key):  # it no longer concerns us (its annotations went, no PodEIP)
            self.on_change(key)

    def podeip_event(self, kind: str | None, body: Mapping[str, Any]) -> None:
        self.delivered += 1
        key, uid = key_of(body), str(_meta(body).get("uid") or "")
        self._notice_listing("podeips", kind)
        if kind == "DELETED":
            self._forget(uid)
            if self._podeips.drop(key, uid):
                self._absent.discard(key)
                self.on_change(key)
            return
        self.put_podeip(body, confirmed=True)

    def _notice_listing(self, resource: str, kind: str | None) -> None:
        if kind is not None:
            self._streaming.add(resource)
        elif resource in self._streaming and self.ready.is_set():  # kopf lists with no event type
            self._streaming.discard(resource)
            self.relisted.set()

    # ---- answers (and events) ----------------------------------------------------------------
    def put_pod(self, body: Mapping[str, Any], *, confirmed: bool = True, fresh: bool = False) -> None:
        self._absent.discard(key_of(body))
        if self._pods.put(body, confirmed=confirmed, gone=self._gone, fresh=fresh):
            self.on_change(key_of(body))

    def put_podeip(self, body: Mapping[str, Any], *, confirmed: bool = True) -> None:
        meta = _meta(body)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            # The answer to the removal of the last finalizer: the object is gone.
            self._forget(str(meta.get("uid") or ""))
            self.drop_podeip(key_of(body), str(meta.get("uid") or ""))  # (not a same-name successor)
            return
        if self._podeips.put(body, confirmed=confirmed, gone=self._gone):
            self.on_change(key_of(body))

    def drop_pod(self, key: Key) -> None:
        """An answer said NotFound: the pod is gone (its DELETED event may still be on its way)."""
        self._gone_pod(key)
        if self._pods.drop(key):
            self.on_change(key)

    def drop_podeip(self, key: Key, uid: str = "") -> None:
        """Drop the PodEIP of ``key`` (with ``uid``: only that one, never a same-name successor)."""
        if self._podeips.drop(key, uid) if uid else self._podeips.drop(key):
            self._absent.discard(key)
            self.on_change(key)

    def _gone_pod(self, key: Key) -> None:
        if key in self._podeips.entries:
            self._absent.add(key)

    def _forget(self, uid: str) -> None:
        if not uid:
            return
        self._gone[uid] = None
        self._gone.move_to_end(uid)
        while len(self._gone) > GONE_REMEMBERED:
            self._gone.popitem(last=False)

    # ---- start-up ----------------------------------------------------------------------------
    async def fill(self, pods: Pods, podeips: PodEIPs, *, page_size: int = 500) -> None:
        """List PodEIPs, then pods, page by page (see the module docstring), replacing what the
        listing shows was gone by then. Entries stay unconfirmed until the watch delivers them.
        Also after kopf listed again (``relisted``): what went meanwhile leaves the view. With
        ``pod_label``, only labelled pods are listed."""
        selector = self.pod_selector
        pod_pages = (
            pods.pages(page_size=page_size, label_selector=selector)
            if selector
            else pods.pages(page_size=page_size)
        )
        for table, pages, keep in (
            (self._podeips, podeips.pages(page_size=page_size), self._keep_podeip),
            (self._pods, pod_pages, self._keep_pod),
        ):
            listed: set[Key] = set()
            version = ""
            async for items, version in pages:  # noqa: B007 (the last page's version is the listing's)
                for body in items:
                    listed.add(key_of(body))
                    keep(body)
            for key in [k for k, e in table.entries.items() if k not in listed]:
                entry = table.entries[key]
                if entry.version and version and not at_least_as_new(entry.version, version):
                    table.drop(key)  # gone before the listing, and no DELETED event came (yet)
                    self.on_change(key)
            table.floor = version
            if table is self._pods and self.pod_label is None:  # a PodEIP whose pod is not listed: gone
                self._absent = {key for key in self._podeips.entries if key not in listed}
        logger.info("view filled: %d PodEIPs, %d pods that ask for an EIP or have one",
                    len(self._podeips.entries), len(self._pods.entries))  # fmt: skip
        self.filled.set()

    def _keep_podeip(self, body: Body) -> None:
        self.put_podeip(body, confirmed=False)

    def _keep_pod(self, body: Body) -> None:
        if self.concerns(body):
            self.put_pod(body, confirmed=False)

    async def confirm(
        self, pods: Pods, podeips: PodEIPs, *, patience: float = CONFIRM_PATIENCE, step: float = 0.1
    ) -> None:
        """Wait for the watch to deliver every listed object, read the few it never does, and
        declare the view ready."""
        # Patience runs only while kopf's streams deliver nothing at all: its start-up listing
        # of a large cluster (20,000 pods, most of which concern us not) takes longer than the
        # patience, and reading every entry not yet delivered one by one would spend the client's
        # whole budget for minutes (BENCHMARKS-scale.md at aa31da0: 1,200 GETs a minute).
        waited, seen = 0.0, self.delivered
        while waited < patience and self._unconfirmed():
            await asyncio.sleep(step)
            waited, seen = (0.0, self.delivered) if self.delivered != seen else (waited + step, seen)
        for table, get, drop, put in (
            (self._podeips, podeips.get, self.drop_podeip, self.put_podeip),
            (self._pods, pods.get_pod, self.drop_pod, self.put_pod),
        ):
            for key in [k for k, e in table.entries.items() if not e.confirmed]:
                try:
                    put(await get(*key))
                except NotFound:
                    drop(key)
        self.ready.set()

    def _unconfirmed(self) -> bool:
        return any(not e.confirmed for table in (self._pods, self._podeips) for e in table.entries.values())


def _dropping_when_gone(drop: Callable[[Key], None]) -> Callable[[str, str], AbstractContextManager[None]]:
    """For the API wrappers below: a request answered NotFound drops its entry from the view."""

    @contextlib.contextmanager
    def answering(namespace: str, name: str) -> Iterator[None]:
        try:
            yield
        except NotFound:
            drop((namespace, name))
            raise

    return answering


class ViewedPodEIPs(PodEIPs):
    """The PodEIPs API, putting every answer into the view (writes keep their guards: a
    resourceVersion or UID precondition, as :class:`PodEIPs` sends them)."""

    def __init__(self, inner: PodEIPs, view: ClusterView) -> None:
        self._inner = inner
        self._view = view
        self._answering = _dropping_when_gone(view.drop_podeip)

    async def create(self, body: Body) -> Body:
        created = await self._inner.create(body)
        self._view.put_podeip(created)
        return created

    async def get(self, namespace: str, name: str) -> Body:
        with self._answering(namespace, name):
            body = await self._inner.get(namespace, name)
        self._view.put_podeip(body)
        return body

    async def list(self, namespace: str | None = None, *, label_selector: str | None = None) -> Items:
        return await self._inner.list(namespace, label_selector=label_selector)

    def pages(self, *, page_size: int = 500) -> AsyncIterator[tuple[Items, str]]:
        return self._inner.pages(page_size=page_size)

    async def _refresh_on_conflict(self, namespace: str, name: str) -> None:
        """A Conflict: the view is behind. Read the object once, so that the pass that comes
        back for it does not decide on the same stale entry (its event is on the way too)."""
        with contextlib.suppress(NotFound):
            await self.get(namespace, name)

    async def patch_metadata_and_spec(
        self, namespace: str, name: str, patch: Body, *, resource_version: str
    ) -> Body:
        try:
            with self._answering(namespace, name):
                body = await self._inner.patch_metadata_and_spec(
                    namespace, name, patch, resource_version=resource_version
                )
        except Conflict:
            await self._refresh_on_conflict(namespace, name)
            raise
        self._view.put_podeip(body)
        return body

    async def patch_status(
        self, namespace: str, name: str, status_patch: Body, *, resource_version: str | None = None
    ) -> Body:
        with self._answering(namespace, name):
            body = await self._inner.patch_status(
                namespace, name, status_patch, resource_version=resource_version
            )
        self._view.put_podeip(body)
        return body

    async def remove_finalizer(
        self,
        namespace: str,
        name: str,
        finalizer: str,
        *,
        resource_version: str,
        finalizers: tuple[str, ...] | None = None,
    ) -> Body:
        try:
            with self._answering(namespace, name):
                known = self._view.podeip((namespace, name))
                same = known is not None and known.metadata.resource_version == resource_version
                body = await self._inner.remove_finalizer(
                    namespace,
                    name,
                    finalizer,
                    resource_version=resource_version,
                    finalizers=known.metadata.finalizers if same and known is not None else finalizers,
                )
        except Conflict:
            await self._refresh_on_conflict(namespace, name)
            raise
        self._view.put_podeip(body)
        return body

    async def delete(self, namespace: str, name: str, *, uid: str | None = None) -> Body:
        with self._answering(namespace, name):
            body = await self._inner.delete(namespace, name, uid=uid)
        if _meta(body).get("deletionTimestamp"):
            self._view.put_podeip(body)  # kept by its finalizer: the teardown runs on it
        elif body.get("kind") == "PodEIP":
            self._view.drop_podeip((namespace, name))  # no finalizer: gone at once
        return body


class ViewedPods(Pods):
    """The pod reads and the two narrow writes, putting every answer into the view."""

    def __init__(self, inner: Pods, view: ClusterView) -> None:
        self._inner = inner
        self._view = view
        self._answering = _dropping_when_gone(view.drop_pod)

    def _answer(self, body: Body) -> None:
        if self._view.concerns(body):
            self._view.put_pod(body, confirmed=self._view.watched(body), fresh=True)

    async def get_pod(self, namespace: str, name: str) -> Body:
        with self._answering(namespace, name):
            body = await self._inner.get_pod(namespace, name)
        self._answer(body)
        return body

    async def list_pods(
        self,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Items:
        return await self._inner.list_pods(
            namespace, label_selector=label_selector, field_selector=field_selector
        )

    def pages(
        self, *, page_size: int = 500, label_selector: str | None = None
    ) -> AsyncIterator[tuple[Items, str]]:
        return self._inner.pages(page_size=page_size, label_selector=label_selector)

    async def patch_pod_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str | None], *, uid: str | None = None
    ) -> Body:
        with self._answering(namespace, name):
            body = await self._inner.patch_pod_annotations(namespace, name, annotations, uid=uid)
        self._answer(body)
        return body

    async def show(
        self,
        namespace: str,
        name: str,
        *,
        uid: str,
        annotations: Mapping[str, str | None] | None,
        condition: Mapping[str, str] | None,
    ) -> Body:
        with self._answering(namespace, name):
            body = await self._inner.show(
                namespace, name, uid=uid, annotations=annotations, condition=condition
            )
        self._answer(body)
        return body

    async def set_pod_condition(
        self, namespace: str, name: str, *, uid: str, condition: Mapping[str, str]
    ) -> Body:
        with self._answering(namespace, name):
            body = await self._inner.set_pod_condition(namespace, name, uid=uid, condition=condition)
        self._answer(body)
        return body
