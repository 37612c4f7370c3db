"""``ObservedEips``: any ``EipProvider``, remembering what it saw of each EIP, and batching looks.

Describe calls are rate-limited per account (600/min, shared with every other tool in it) and
every pod's pass looks at its EIP, so the operator reaches the cloud through this decorator:

- **observations**: the last state seen of each EIP, with the moment it was seen (on the
  injected monotonic clock). ``get_eip(id, max_age=s)`` answers from it when it is at most
  ``s`` seconds old and steady; an async state (Associating, Unassociating, Releasing) and an
  EIP found missing are never served from memory: they are looked at again.
- **what counts as seen**: every answer that passes through. A look by ID, a listing (by tags,
  the garbage collector's, the warm-up at start), an EIP just allocated (Available, built from
  the request: Allocate is synchronous for pay-as-you-go EIPs). An answer counts as an
  observation at the moment its request was sent, taken *before* the call (so the time spent
  waiting for a rate-limit slot, or for the next page, only makes it look older than it is:
  "fresh" errs on the safe side). A listing that started before a newer observation, or before
  we last changed that EIP, does not overwrite it.
- **invalidation**: every mutating call through the decorator (associate, unassociate,
  release, tag, join or leave a bandwidth package) forgets the EIP before the call and again
  after it (success or not): a listing taken while the call ran may show the old state, and
  since it started before the second mark it can never bring that state back.
- **coalescing**: single looks that arrive together become one batched call. A cache miss
  joins the batch being gathered; the batch is sent on the next turn of the event loop (or
  after ``window`` seconds) and, while it is in flight, new looks gather for the next one. So a
  look is always answered by a request sent after it was asked: each answer is a fresh
  observation, as the safety rules require (R6's "fresh look before unbinding"). EIPs go out as
  ``describe_eips(allocation_ids=...)`` (the provider splits them by the API's 50 IDs per
  call), pod IPs as ``find_enis(...)`` (100 per call).
- **paced polls**: a pass that waits for a transition books its next look (``book_poll``):
  the look is due at its time, and polls go out at most once per ``PACE`` seconds, so a poll
  due meanwhile is moved to the next batch of polls (a lone poll goes at once: one pod alone
  loses nothing). The first pass that comes for a batch sends it with every poll booked for
  then (and every fresh look expected soon, below); the others find their answers waiting.
  Rate-limited Associates and Unassociates come about 0.55 s apart (110/min), so without
  pacing nearly every poll would be a Describe of its own.
- **fresh looks ahead**: a pass that will need a fresh look at its rate-limit slot (R6's look
  before an Unassociate) says so (``book_fresh``); any batch sent up to ``serves`` seconds
  before that takes the EIP along, and the pass finds that observation young enough. How fresh
  is fresh: an answer counts from the moment its request was asked for (before the batch is
  sent), and a booked answer is served only within the pass's ``max_age`` (a busy state, which
  is never acted on, at any age); every mutation drops booked answers with the rest.
- **ENIs looked up early**: the ENI that holds a pod IP is looked up when the watch first shows
  the pod with its IP (``find_eni_early``; pods of a burst get theirs together, so their lookups
  gather for ``ENI_GATHER`` seconds into one call) and remembered for that pod UID and IP, until
  an Associate to that IP fails (other than unsent or unanswered: a wrong or stale answer costs
  one call, then it is looked up again) or ``HORIZON`` passed (kept after a success, so that the
  pod's later events do not look it up again). An IP stays on its ENI for the pod's life; an
  IP found on no ENI is never remembered (it may not be attached yet).

The decorator is vendor-neutral: it knows the port and the models, nothing of Alibaba.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from podeip.cloud import ratelimit
from podeip.cloud.clock import Clock
from podeip.cloud.errors import RateLimited, Throttled, Transient
from podeip.cloud.models import (
    DEFAULT_BANDWIDTH,
    DEFAULT_INSTANCE_CHARGE_TYPE,
    DEFAULT_INTERNET_CHARGE_TYPE,
    DEFAULT_ISP,
    AllocateRequest,
    Allocation,
    Eip,
    EipStatus,
    Eni,
)
from podeip.cloud.provider import EipProvider, single_eni

#: States that change by themselves: never served from memory.
ASYNC_STATES: Final = frozenset({EipStatus.ASSOCIATING, EipStatus.UNASSOCIATING, EipStatus.RELEASING})
#: The states in which an EIP has its private IP (an unbinding one still has it).
HOLDING: Final = frozenset({EipStatus.IN_USE, EipStatus.ASSOCIATING, EipStatus.UNASSOCIATING})
#: Seconds between two batches of polls. Transitions take about 2 s; a poll moved by up to
#: this much costs a pod at most that in a burst (which is bound by the rate limits, 0.55 s a
#: pod, far more than by this), and each batch then serves the 3–4 pods whose transitions
#: ended meanwhile (1.5 s: 2–3 pods, and 0.15 more calls per lifecycle in the 100-pod bench).
PACE: Final = 2.0
#: Seconds the early ENI lookups wait for each other before one call (nobody waits for them:
#: the pass that needs the answer comes after Allocate, which takes longer).
ENI_GATHER: Final = 0.1
#: Seconds after which what we remember is dropped (observations, and the marks of our own
#: changes); a listing that started longer ago than this is not taken as an observation at all,
#: since the marks it would have to be ordered against may be gone.
HORIZON: Final = 600.0

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a failure as seen even if every caller of it was cancelled meanwhile."""
    if not future.cancelled():
        future.exception()


class Coalescer(Generic[K, V]):
    """Lookups of single keys answered together by one call of ``fetch(keys)``.

    ``fetch`` must answer every key it is given. One batch is in flight at a time; a lookup
    never joins a batch already sent.
    """

    def __init__(self, fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]], *, window: float = 0.0) -> None:
        self._fetch = fetch
        self._window = window
        self._gathering: dict[K, asyncio.Future[V]] = {}
        self._runner: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The sizes of the latest batches sent (tests and benchmarks read it).
        self.batches: deque[int] = deque(maxlen=1000)

    async def get(self, key: K) -> V:
        # Shielded: a caller that gives up does not cancel the answer others wait for.
        return await asyncio.shield(self.ask(key))

    def ask(self, key: K) -> asyncio.Future[V]:
        """The answer of the next batch for ``key``, without waiting for it here."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first use, or a new event loop (tests): start afresh
            self._loop, self._gathering, self._runner = loop, {}, None
        future = self._gathering.get(key)
        if future is None:
            future = loop.create_future()
            future.add_done_callback(_retrieve)
            self._gathering[key] = future
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return future

    async def _run(self) -> None:
        # This task copied the context of the pass that started it: a batch serves many pods,
        # so it books no rate-limit slot in that one pass's name (``ratelimit.reserve_for``);
        # it waits for a slot as the collector does (Describe's limit is rarely reached).
        ratelimit.HOLDER.set(None)
        ratelimit.MAX_WAIT.set(None)
        while self._gathering:
            await asyncio.sleep(self._window)  # the lookups of this moment join the batch
            batch, self._gathering = self._gathering, {}
            self.batches.append(len(batch))
            try:
                answers = await self._fetch(list(batch))
                results = [(future, answers[key]) for key, future in batch.items()]
            except asyncio.CancelledError:
                for future in batch.values():
                    future.cancel()
                raise
            except Exception as error:
                for future in batch.values():
                    if not future.done():
                        future.set_exception(error)
                continue
            for future, answer in results:
                if not future.done():
                    future.set_result(answer)


@dataclass(frozen=True)
class _Seen:
    #: None: looked up by ID and not found.
    eip: Eip | None
    at: float


class ObservedEips:
    """An ``EipProvider`` wrapping ``inner``; ``get_eip`` also takes ``max_age`` (seconds)."""

    def __init__(
        self,
        inner: EipProvider,
        *,
        clock: Clock = time.monotonic,
        window: float = 0.0,
        eni_gather: float | None = None,
    ) -> None:
        self.inner = inner
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        #: allocation ID → the last moment we began or finished changing it.
        self._changed: dict[str, float] = {}
        self._pruned = clock()
        self.eip_looks: Coalescer[str, Eip | None] = Coalescer(self._describe_ids, window=window)
        # One batcher of ENI lookups serves the early ones (from the watch) and the passes' own:
        # both gather for ``ENI_GATHER`` (a pass that needs an ENI has just come back from its
        # Allocate, far longer).
        self.eni_looks: Coalescer[str, tuple[Eni, ...]] = Coalescer(
            lambda ips: self.inner.find_enis(ips), window=ENI_GATHER if eni_gather is None else eni_gather
        )
        #: Paced polls: allocation ID → the time of its batch; the last batch of polls sent.
        self._polls: dict[str, float] = {}
        self._polled = -HORIZON
        #: Fresh looks ahead: allocation ID → (when its pass expects it, how long one serves).
        self._ahead: dict[str, tuple[float, float]] = {}
        #: Looks sent for a booking: allocation ID → (asked at, the answer).
        self._answers: dict[str, tuple[float, asyncio.Future[Eip | None]]] = {}
        #: pod IP → (pod UID, when asked, the lookup): see "ENIs looked up early".
        self._enis: dict[str, tuple[str, float, asyncio.Future[tuple[Eni, ...]]]] = {}
        #: private IP → the allocation ID of the EIP last seen on it (``holder_of``), and back.
        self._held: dict[str, str] = {}
        self._holds: dict[str, str] = {}
        #: Holders told (``expect_holder``) and not looked at since.
        self._expected: set[str] = set()

    # ---- what we remember ---------------------------------------------------------------------
    def _record(self, allocation_id: str, eip: Eip | None, at: float) -> None:
        """Seen at ``at``, unless we changed the EIP since or saw it later than that."""
        now = self._clock()
        if at < now - HORIZON:
            return
        changed = self._changed.get(allocation_id)
        seen = self._seen.get(allocation_id)
        if (changed is not None and changed >= at) or (seen is not None and seen.at > at):
            return
        self._seen[allocation_id] = _Seen(eip, at)
        self._hold(allocation_id, eip)
        self._prune(now)

    def _hold(self, allocation_id: str, eip: Eip | None) -> None:
        """Which private IP this EIP holds, as this observation shows: bound there, or in a
        transition from or to it (Alibaba gives a private IP one EIP; an unbinding one still
        has it). Our own changes do not clear it: only a look that shows the EIP elsewhere."""
        self._expected.discard(allocation_id)
        ip = self._holds.pop(allocation_id, None)
        if ip is not None and self._held.get(ip) == allocation_id:
            del self._held[ip]
        if eip is not None and eip.status in HOLDING and eip.private_ip_address:
            self._held[eip.private_ip_address] = allocation_id
            self._holds[allocation_id] = eip.private_ip_address

    def expect_holder(self, private_ip: str, allocation_id: str) -> None:
        """Another source (a PodEIP's record of its binding) says this EIP is on this IP: until
        a look shows where it is, ``holder_of`` names it, as never looked at (the caller looks)."""
        if allocation_id in self._seen or private_ip in self._held:
            return
        self._held[private_ip] = allocation_id
        self._holds[allocation_id] = private_ip
        self._expected.add(allocation_id)

    def now(self) -> float:
        """This memory's clock (for ``changed_since``)."""
        return self._clock()

    def changed_since(self, allocation_id: str, at: float) -> bool:
        """Whether we began or finished changing this EIP at ``at`` (``now()``) or later."""
        changed = self._changed.get(allocation_id)
        return changed is not None and changed >= at

    def holder_of(self, private_ip: str) -> tuple[str, float] | None:
        """The allocation ID of the EIP last seen on this private IP (bound, binding or
        unbinding) and the age of what we know (seconds): of that look, or, once we changed the
        EIP, of our change (nothing looked at it since). None: none seen there. Associate
        answers InvalidAssociation.Duplicated while one is there."""
        allocation_id = self._held.get(private_ip)
        if allocation_id is None:
            return None
        seen = self._seen.get(allocation_id)
        at = seen.at if seen is not None else self._changed.get(allocation_id, -HORIZON)
        return allocation_id, self._clock() - at

    def _forget(self, allocation_ids: Iterable[str]) -> None:
        now = self._clock()
        for allocation_id in allocation_ids:
            self._seen.pop(allocation_id, None)
            self._answers.pop(allocation_id, None)
            self._ahead.pop(allocation_id, None)
            self._changed[allocation_id] = now
        self._prune(now)

    def _prune(self, now: float) -> None:
        if now - self._pruned < HORIZON / 4:
            return
        self._pruned = now
        self._seen = {key: seen for key, seen in self._seen.items() if seen.at >= now - HORIZON}
        self._enis = {ip: entry for ip, entry in self._enis.items() if entry[1] >= now - HORIZON}
        self._polls = {key: at for key, at in self._polls.items() if at >= now - HORIZON}
        self._ahead = {key: at for key, at in self._ahead.items() if at[0] >= now - HORIZON}
        self._answers = {key: at for key, at in self._answers.items() if at[0] >= now - HORIZON}
        self._changed = {key: at for key, at in self._changed.items() if at >= now - HORIZON}
        kept = self._seen.keys() | self._changed.keys() | self._expected
        self._holds = {key: ip for key, ip in self._holds.items() if key in kept}
        self._held = {ip: key for ip, key in self._held.items() if self._holds.get(key) == ip}

    def remembered(self, allocation_id: str) -> tuple[Eip | None, float] | None:
        """The observation kept of this EIP and its moment (None: nothing kept)."""
        seen = self._seen.get(allocation_id)
        return None if seen is None else (seen.eip, seen.at)

    def last_seen(self, allocation_id: str) -> tuple[Eip | None, float]:
        """The EIP as last seen (None: not seen, or seen missing) and that look's age (seconds)."""
        seen = self._seen.get(allocation_id)
        return (None, HORIZON) if seen is None else (seen.eip, self._clock() - seen.at)

    async def _changing(self, allocation_ids: Sequence[str], call: Awaitable[V]) -> V:
        self._forget(allocation_ids)
        try:
            return await call
        finally:
            self._forget(allocation_ids)

    # ---- reads ------------------------------------------------------------------------------
    async def get_eip(self, allocation_id: str, *, max_age: float = 0.0) -> Eip | None:
        """The EIP as seen at most ``max_age`` seconds ago (0: by a request sent from now on);
        a booked look (``book_poll``, ``book_fresh``) already sent answers it."""
        booked = self._answers.pop(allocation_id, None)
        if booked is not None:
            asked, answer = booked
            eip = await asyncio.shield(answer)
            if (eip is not None and eip.status in ASYNC_STATES) or self._clock() - asked <= max_age:
                return eip
        seen = self._seen.get(allocation_id)
        now = self._clock()
        if (
            seen is not None
            and seen.eip is not None
            and seen.eip.status not in ASYNC_STATES
            and now - seen.at <= max_age
        ):
            return seen.eip
        if self._polls.get(allocation_id, now) <= now:  # (not a pass come before its poll)
            self._send_booked(allocation_id, now)
        return await self.eip_looks.get(allocation_id)

    # ---- paced polls and fresh looks ahead ------------------------------------------------------
    def book_poll(self, allocation_id: str, due: float) -> float:
        """Book a poll due at ``due`` (this clock); the time of its batch (``due`` or later)."""
        slots = sorted(set(self._polls.values()))
        joined = next((slot for slot in slots if due <= slot < due + PACE), None)
        if joined is None:
            before = max([slot for slot in slots if slot < due], default=self._polled)
            joined = max(due, before + PACE)
        self._polls[allocation_id] = joined
        return joined

    def book_fresh(self, allocation_id: str, *, at: float, serves: float) -> None:
        """A pass will want a look at most ``serves`` seconds old at ``at`` (this clock)."""
        self._ahead[allocation_id] = (at, serves)

    def _send_booked(self, allocation_id: str, now: float) -> None:
        """This look goes to the cloud now: every poll booked until now and every fresh look
        ahead that this one will serve go along, into the same batch."""
        polls = [key for key, slot in self._polls.items() if slot <= now]
        ahead = [key for key, (at, serves) in self._ahead.items() if at <= now + serves]
        if polls:
            self._polled = now
        for key in polls:
            del self._polls[key]
        for key in ahead:
            del self._ahead[key]
        for key in {*polls, *ahead} - {allocation_id}:
            self._answers[key] = (now, self.eip_looks.ask(key))

    async def _describe_ids(self, allocation_ids: list[str]) -> dict[str, Eip | None]:
        at = self._clock()  # the moment the batched request is sent (or a little before)
        found = {
            eip.allocation_id: eip for eip in await self.inner.describe_eips(allocation_ids=allocation_ids)
        }
        answers = {allocation_id: found.get(allocation_id) for allocation_id in allocation_ids}
        for allocation_id, eip in answers.items():
            self._record(allocation_id, eip, at)
        return answers

    async def describe_eips(
        self,
        *,
        allocation_ids: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        tags: Mapping[str, str] | None = None,
        instance_id: str | None = None,
        instance_type: str | None = None,
        status: EipStatus | None = None,
    ) -> list[Eip]:
        at = self._clock()  # a listing is an observation at the moment it started
        eips = await self.inner.describe_eips(
            allocation_ids=allocation_ids,
            ip_addresses=ip_addresses,
            tags=tags,
            instance_id=instance_id,
            instance_type=instance_type,
            status=status,
        )
        for eip in eips:
            self._record(eip.allocation_id, eip, at)
        if allocation_ids and not (ip_addresses or tags or instance_id or instance_type or status):
            listed = {eip.allocation_id for eip in eips}  # only then does "not listed" mean "gone"
            for allocation_id in allocation_ids:
                if allocation_id not in listed:
                    self._record(allocation_id, None, at)
        return eips

    def find_eni_early(self, private_ip: str, *, pod_uid: str) -> None:
        """Start looking up the ENI of this pod's IP; ``find_eni`` with the same UID answers
        from it. Nothing is awaited here (the watch calls it)."""
        entry = self._enis.get(private_ip)
        if entry is not None and entry[0] == pod_uid:
            return
        try:
            lookup = self.eni_looks.ask(private_ip)
        except RuntimeError:  # no event loop (a synchronous caller): the pass looks it up
            return
        self._enis[private_ip] = (pod_uid, self._clock(), lookup)
        self._prune(self._clock())

    async def find_eni(self, private_ip: str, *, pod_uid: str = "") -> Eni | None:
        """The ENI that holds ``private_ip``: the early lookup for this pod UID if there is one
        (a failed one, or one that found no ENI, is made again now)."""
        entry = self._enis.get(private_ip)
        if pod_uid and entry is not None and entry[0] == pod_uid:
            try:
                eni = single_eni(private_ip, await asyncio.shield(entry[2]))
            except Exception:
                eni = None
            if eni is not None:
                return eni
            self._enis.pop(private_ip, None)
        eni = single_eni(private_ip, await self.eni_looks.get(private_ip))
        if pod_uid and eni is not None:
            done: asyncio.Future[tuple[Eni, ...]] = asyncio.get_running_loop().create_future()
            done.set_result((eni,))
            self._enis[private_ip] = (pod_uid, self._clock(), done)
        return eni

    async def find_enis(self, private_ips: Sequence[str]) -> dict[str, tuple[Eni, ...]]:
        return await self.inner.find_enis(private_ips)

    def ensure_slot(self, method: str) -> None:
        """Raise ``RateLimited`` now if the provider's rate limit would make ``method``
        (``"associate_eip"``, ``"unassociate_eip"``) wait beyond what this pass may, reserving
        the slot: the reads that only serve that call are then made when it is due, not twice.
        A provider without a client-side limit has nothing to check."""
        ensure = getattr(self.inner, "ensure_slot", None)
        if ensure is not None:
            ensure(method)

    async def wait_for_status(self, allocation_id: str, *, wanted: EipStatus, timeout: float) -> Eip:  # noqa: ASYNC109
        return await self.inner.wait_for_status(allocation_id, wanted=wanted, timeout=timeout)

    # ---- mutations ----------------------------------------------------------------------------
    async def allocate_eip(
        self, request: AllocateRequest, *, owner_tags: Mapping[str, str], client_token: str
    ) -> Allocation:
        allocation = await self.inner.allocate_eip(request, owner_tags=owner_tags, client_token=client_token)
        self._record(allocation.allocation_id, allocated(request, allocation, owner_tags), self._clock())
        return allocation

    async def associate_eip(
        self, allocation_id: str, *, eni_id: str, private_ip: str, client_token: str
    ) -> None:
        call = self.inner.associate_eip(
            allocation_id, eni_id=eni_id, private_ip=private_ip, client_token=client_token
        )
        try:
            await self._changing([allocation_id], call)
        except (RateLimited, Throttled, Transient):
            raise  # not sent, or not answered: the ENI is as good as before
        except BaseException:
            self._enis.pop(private_ip, None)  # refused (an ENI gone, an instance error...)
            raise

    async def unassociate_eip(
        self, allocation_id: str, *, eni_id: str, private_ip: str, client_token: str
    ) -> None:
        call = self.inner.unassociate_eip(
            allocation_id, eni_id=eni_id, private_ip=private_ip, client_token=client_token
        )
        await self._changing([allocation_id], call)

    async def release_eip(self, allocation_id: str) -> None:
        await self._changing([allocation_id], self.inner.release_eip(allocation_id))

    async def tag_eips(self, allocation_ids: Sequence[str], *, tags: Mapping[str, str]) -> None:
        await self._changing(list(allocation_ids), self.inner.tag_eips(allocation_ids, tags=tags))

    async def add_to_bandwidth_package(
        self, allocation_id: str, *, bandwidth_package_id: str, client_token: str
    ) -> None:
        call = self.inner.add_to_bandwidth_package(
            allocation_id, bandwidth_package_id=bandwidth_package_id, client_token=client_token
        )
        await self._changing([allocation_id], call)

    async def remove_from_bandwidth_package(
        self, allocation_id: str, *, bandwidth_package_id: str, client_token: str
    ) -> None:
        call = self.inner.remove_from_bandwidth_package(
            allocation_id, bandwidth_package_id=bandwidth_package_id, client_token=client_token
        )
        await self._changing([allocation_id], call)

    async def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            await close()


def allocated(request: AllocateRequest, allocation: Allocation, owner_tags: Mapping[str, str]) -> Eip:
    """A new pay-as-you-go EIP as Describe would show it: Available, with what was asked for
    (Alibaba's defaults where the request left the choice) and every tag it was born with."""
    return Eip(
        allocation_id=allocation.allocation_id,
        ip_address=allocation.ip_address,
        status=EipStatus.AVAILABLE,
        bandwidth=request.bandwidth or DEFAULT_BANDWIDTH,
        internet_charge_type=request.internet_charge_type or DEFAULT_INTERNET_CHARGE_TYPE,
        instance_charge_type=request.instance_charge_type or DEFAULT_INSTANCE_CHARGE_TYPE,
        isp=request.isp or DEFAULT_ISP,
        resource_group_id=allocation.resource_group_id or request.resource_group_id or "",
        public_ip_address_pool_id=request.public_ip_address_pool_id or "",
        name=request.name or "",
        description=request.description or "",
        security_protection_types=request.security_protection_types,
        tags={**request.tags, **owner_tags},
    )
