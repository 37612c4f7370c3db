"""We test these aspects of ``ObservedEips``, the observation cache in front of any provider:

- ``max_age``: a steady observation stands in for a Describe up to its age; a busy state and
  an EIP found missing are always looked at again; an allocation is an Available observation;
- invalidation: every mutating call forgets the EIP before and after the call, also when it
  fails, so a listing taken before or during the call never brings the old state back; a
  listing older than a newer look is ignored;
- coalescing: single looks that arrive together are one Describe with many IDs (and one ENI
  lookup with many IPs); early ENI lookups gather over a moment, are remembered per pod UID and
  IP (not when no ENI holds it) and forgotten when an Associate to that IP is refused;
  a look never joins a batch already sent; a failed batch fails its
  looks only; a caller that gives up does not cancel the others' answer;
- pacing: polls are booked at their time or the next batch of polls, at most one per PACE (a
  lone poll at once), and that batch answers every poll booked in it; a fresh look booked
  ahead goes along with a batch sent shortly before, and serves only while fresh and unchanged;
- the holder of a private IP: the EIP last seen bound, binding or unbinding there, kept
  through our own change of it, cleared only by a look that shows it elsewhere or free;
- the batch limit: 120 looks at once are one call of the port, which the provider splits into
  three DescribeEipAddresses of at most 50 IDs (the simulated engine counts them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from podeip.cloud import errors, ratelimit
from podeip.cloud.clock import ManualClock
from podeip.cloud.models import AllocateRequest, Allocation, Eip, EipStatus, Eni
from podeip.cloud.observed import HORIZON, PACE, Coalescer, ObservedEips
from podeip.simulator.engine import Engine, EngineConfig
from podeip.simulator.provider import SimulatedEipProvider

STEADY, FRESH = 30.0, 2.0


def _eip(allocation_id: str, status: EipStatus = EipStatus.IN_USE) -> Eip:
    return Eip(allocation_id=allocation_id, ip_address="203.0.113.9", status=status)


class Cloud:
    """A provider whose EIPs a test sets; every call is recorded; calls can be held open."""

    def __init__(self, *eips: Eip) -> None:
        self.eips = {eip.allocation_id: eip for eip in eips}
        self.calls: list[tuple[str, Any]] = []
        self.enis: dict[str, tuple[Eni, ...]] = {}
        #: When set, the next describe (or mutation) waits for this event before answering.
        self.hold: asyncio.Event | None = None
        self.fail: errors.CloudError | None = None

    async def _held(self) -> None:
        hold, self.hold = self.hold, None
        if hold is not None:
            await hold.wait()

    async def describe_eips(self, *, allocation_ids: Sequence[str] = (), **filters: Any) -> list[Eip]:
        self.calls.append(("describe", (tuple(allocation_ids), filters)))
        snapshot = dict(self.eips)  # the answer is the state when the request was served
        await self._held()
        if self.fail is not None:
            raise self.fail
        return [eip for key, eip in snapshot.items() if not allocation_ids or key in allocation_ids]

    async def find_enis(self, private_ips: Sequence[str]) -> dict[str, tuple[Eni, ...]]:
        self.calls.append(("find_enis", tuple(private_ips)))
        return {ip: self.enis.get(ip, ()) for ip in private_ips}

    async def associate_eip(self, allocation_id: str, **_: Any) -> None:
        self.calls.append(("associate", allocation_id))
        await self._held()
        if self.fail is not None:
            raise self.fail
        self.eips[allocation_id] = _eip(allocation_id, EipStatus.ASSOCIATING)

    async def unassociate_eip(self, allocation_id: str, **_: Any) -> None:
        self.calls.append(("unassociate", allocation_id))

    async def release_eip(self, allocation_id: str) -> None:
        self.calls.append(("release", allocation_id))
        self.eips.pop(allocation_id, None)

    async def allocate_eip(
        self, request: AllocateRequest, *, owner_tags: Mapping[str, str], client_token: str
    ) -> Allocation:
        self.calls.append(("allocate", client_token))
        self.eips["eip-new"] = _eip("eip-new", EipStatus.AVAILABLE)
        return Allocation(allocation_id="eip-new", ip_address="203.0.113.50", resource_group_id="rg-1")

    def described(self) -> list[tuple[str, ...]]:
        return [ids for what, (ids, _) in (c for c in self.calls if c[0] == "describe")]


def _observed(cloud: Cloud, clock: ManualClock) -> ObservedEips:
    return ObservedEips(cloud, clock=clock)  # type: ignore[arg-type]


# ---- max_age -------------------------------------------------------------------------------
async def test_the_holder_of_an_ip_is_what_the_last_look_showed_there() -> None:
    def on(status: EipStatus, ip: str = "10.0.0.5") -> Eip:
        return Eip(allocation_id="eip-1", ip_address="203.0.113.9", status=status, private_ip_address=ip)

    clock, cloud = ManualClock(), Cloud(on(EipStatus.IN_USE))
    observed = _observed(cloud, clock)
    assert observed.holder_of("10.0.0.5") is None  # nothing seen yet
    await observed.describe_eips(tags={"k": "v"})  # a listing is an observation too
    clock.advance(3)
    assert observed.holder_of("10.0.0.5") == ("eip-1", 3.0)
    cloud.eips["eip-1"] = on(EipStatus.UNASSOCIATING)
    await observed.unassociate_eip("eip-1", eni_id="eni-1", private_ip="10.0.0.5", client_token="t")
    assert observed.holder_of("10.0.0.5") == ("eip-1", 0.0)  # changed by us just now: still there
    clock.advance(2)
    assert observed.holder_of("10.0.0.5") == ("eip-1", 2.0)  # and aging from our change
    await observed.get_eip("eip-1")
    assert observed.holder_of("10.0.0.5") == ("eip-1", 0.0)  # unbinding still has the IP
    cloud.eips["eip-1"] = on(EipStatus.AVAILABLE, ip="")
    clock.advance(1)
    await observed.get_eip("eip-1")
    assert observed.holder_of("10.0.0.5") is None
    cloud.eips["eip-1"] = on(EipStatus.IN_USE, ip="10.0.0.6")  # bound elsewhere since
    clock.advance(1)
    await observed.get_eip("eip-1")
    assert observed.holder_of("10.0.0.5") is None and observed.holder_of("10.0.0.6") == ("eip-1", 0.0)
    cloud.eips.pop("eip-1")  # released
    clock.advance(1)
    await observed.get_eip("eip-1")
    assert observed.holder_of("10.0.0.6") is None


async def test_a_steady_observation_replaces_a_describe_until_it_is_too_old() -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1"))
    observed = _observed(cloud, clock)
    await observed.get_eip("eip-1")
    clock.advance(20)
    assert (await observed.get_eip("eip-1", max_age=STEADY)).status is EipStatus.IN_USE  # type: ignore[union-attr]
    assert len(cloud.described()) == 1
    await observed.get_eip("eip-1", max_age=FRESH)  # a decision to unbind needs a fresh look
    assert len(cloud.described()) == 2
    clock.advance(1)
    await observed.get_eip("eip-1", max_age=FRESH)  # that look is 1 s old: fresh enough
    assert len(cloud.described()) == 2


async def test_busy_and_missing_eips_are_always_looked_at_again() -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1", EipStatus.ASSOCIATING))
    observed = _observed(cloud, clock)
    await observed.get_eip("eip-1")
    cloud.eips["eip-1"] = _eip("eip-1", EipStatus.IN_USE)
    assert (await observed.get_eip("eip-1", max_age=STEADY)).status is EipStatus.IN_USE  # type: ignore[union-attr]
    assert await observed.get_eip("eip-gone", max_age=STEADY) is None
    assert await observed.get_eip("eip-gone", max_age=STEADY) is None
    assert cloud.described() == [("eip-1",), ("eip-1",), ("eip-gone",), ("eip-gone",)]


async def test_an_allocation_is_an_available_observation_with_what_was_asked() -> None:
    clock, cloud = ManualClock(), Cloud()
    observed = _observed(cloud, clock)
    request = AllocateRequest(bandwidth=20, internet_charge_type="PayByTraffic", tags={"team": "a"})
    await observed.allocate_eip(request, owner_tags={"owner": "me"}, client_token="a-1")
    eip = await observed.get_eip("eip-new", max_age=STEADY)
    assert cloud.described() == []
    assert eip is not None and eip.status is EipStatus.AVAILABLE
    assert (eip.bandwidth, eip.internet_charge_type, eip.isp, eip.resource_group_id) == (
        20,
        "PayByTraffic",
        "BGP",
        "rg-1",
    )
    assert eip.tags == {"team": "a", "owner": "me"}


# ---- invalidation --------------------------------------------------------------------------
async def _start_listing(
    observed: ObservedEips, cloud: Cloud
) -> tuple[asyncio.Task[list[Eip]], asyncio.Event]:
    """A listing by tags, sent now and held open until the returned event is set; it answers
    the state it saw when it was served (now)."""
    cloud.hold = answer = asyncio.Event()
    task = asyncio.create_task(observed.describe_eips(tags={"k": "v"}))
    await asyncio.sleep(0)
    return task, answer


async def test_a_mutation_forgets_the_eip_and_a_listing_started_before_it_is_ignored() -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1", EipStatus.AVAILABLE))
    observed = _observed(cloud, clock)
    await observed.get_eip("eip-1")
    listing, answer = await _start_listing(observed, cloud)  # sees Available
    clock.advance(1)
    await observed.associate_eip("eip-1", eni_id="eni-1", private_ip="10.0.0.5", client_token="s")
    assert observed.remembered("eip-1") is None
    clock.advance(1)
    answer.set()
    assert [eip.status for eip in await listing] == [EipStatus.AVAILABLE]
    eip = await observed.get_eip("eip-1", max_age=STEADY)
    assert eip is not None and eip.status is EipStatus.ASSOCIATING  # looked at, not the listing's
    assert cloud.described()[-1] == ("eip-1",)


async def test_a_listing_taken_during_the_call_never_brings_the_old_state_back() -> None:
    for listing_answers_first in (True, False):
        clock, cloud = ManualClock(), Cloud(_eip("eip-1", EipStatus.AVAILABLE))
        observed = _observed(cloud, clock)
        call_open = asyncio.Event()
        cloud.hold = call_open
        mutation = asyncio.create_task(
            observed.associate_eip("eip-1", eni_id="eni-1", private_ip="10.0.0.5", client_token="s")
        )
        await asyncio.sleep(0)  # the call is sent and held; the EIP was forgotten before it
        clock.advance(1)
        listed = asyncio.Event()
        cloud.hold = listed
        listing = asyncio.create_task(observed.describe_eips(tags={"k": "v"}))  # sees Available
        await asyncio.sleep(0)
        clock.advance(1)
        if listing_answers_first:
            listed.set()
            await listing
            call_open.set()
            await mutation
        else:
            call_open.set()
            await mutation
            listed.set()
            await listing
        eip = await observed.get_eip("eip-1", max_age=STEADY)
        assert eip is not None and eip.status is EipStatus.ASSOCIATING, listing_answers_first


async def test_a_look_during_a_mutation_asks_the_cloud() -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1", EipStatus.AVAILABLE))
    observed = _observed(cloud, clock)
    await observed.get_eip("eip-1")
    cloud.hold = call_open = asyncio.Event()
    mutation = asyncio.create_task(
        observed.associate_eip("eip-1", eni_id="eni-1", private_ip="10.0.0.5", client_token="s")
    )
    await asyncio.sleep(0)
    cloud.eips["eip-1"] = _eip("eip-1", EipStatus.ASSOCIATING)  # the call took effect, no answer yet
    during = await observed.get_eip("eip-1", max_age=STEADY)
    assert during is not None and during.status is EipStatus.ASSOCIATING
    call_open.set()
    await mutation


async def test_an_eip_found_gone_is_not_brought_back_by_an_older_listing() -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1", EipStatus.AVAILABLE))
    observed = _observed(cloud, clock)
    listing, answer = await _start_listing(observed, cloud)  # sees eip-1
    clock.advance(1)
    del cloud.eips["eip-1"]  # released out of band
    assert await observed.get_eip("eip-1") is None
    answer.set()
    await listing
    assert observed.remembered("eip-1") == (None, clock())
    assert await observed.get_eip("eip-1", max_age=STEADY) is None


async def test_a_failed_mutation_forgets_the_eip_too() -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1", EipStatus.AVAILABLE))
    observed = _observed(cloud, clock)
    await observed.get_eip("eip-1")
    cloud.fail = errors.InvalidState("busy", code="IncorrectEipStatus", operation="AssociateEipAddress")
    with pytest.raises(errors.InvalidState):
        await observed.associate_eip("eip-1", eni_id="eni-1", private_ip="10.0.0.5", client_token="s")
    cloud.fail = None
    assert observed.remembered("eip-1") is None
    await observed.get_eip("eip-1", max_age=STEADY)
    assert len(cloud.described()) == 2


async def test_a_listing_is_an_observation_from_when_it_started_and_never_overrides_a_later_look() -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1", EipStatus.AVAILABLE))
    observed = _observed(cloud, clock)
    listing, answer = await _start_listing(observed, cloud)  # starts at t0 and sees Available
    started = clock()
    clock.advance(5)
    cloud.eips["eip-1"] = _eip("eip-1", EipStatus.IN_USE)  # bound out of band meanwhile
    await observed.get_eip("eip-1")  # a look at t0 + 5 s
    answer.set()
    await listing
    remembered = observed.remembered("eip-1")
    assert remembered is not None and remembered[0] is not None
    assert remembered[0].status is EipStatus.IN_USE and remembered[1] == started + 5
    # A listing alone counts from its start: 29 s later it is still steady, 31 s later not.
    other = ObservedEips(Cloud(_eip("eip-2")), clock=clock)  # type: ignore[arg-type]
    await other.describe_eips(tags={"k": "v"})
    clock.advance(29)
    assert other.remembered("eip-2") is not None
    await other.get_eip("eip-2", max_age=STEADY)
    assert len(other.inner.described()) == 1  # type: ignore[attr-defined]
    clock.advance(2)
    await other.get_eip("eip-2", max_age=STEADY)
    assert len(other.inner.described()) == 2  # type: ignore[attr-defined]


async def test_a_release_is_not_undone_by_an_older_listing_and_memory_is_bounded() -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1", EipStatus.AVAILABLE))
    observed = _observed(cloud, clock)
    listing, answer = await _start_listing(observed, cloud)  # sees eip-1
    clock.advance(1)
    await observed.release_eip("eip-1")
    answer.set()
    await listing
    assert observed.remembered("eip-1") is None
    clock.advance(HORIZON + 1)
    await observed.get_eip("eip-2")  # any later observation prunes what is older than HORIZON
    assert "eip-1" not in observed._changed


# ---- coalescing ----------------------------------------------------------------------------
async def test_looks_that_arrive_together_are_one_describe_with_every_id() -> None:
    clock = ManualClock()
    cloud = Cloud(*(_eip(f"eip-{n}") for n in range(10)))
    observed = _observed(cloud, clock)
    ids = [f"eip-{n}" for n in range(10)] + ["eip-gone", "eip-3"]
    answers = await asyncio.gather(*(observed.get_eip(i) for i in ids))
    assert cloud.described() == [tuple(dict.fromkeys(ids))]
    assert [a.allocation_id if a else None for a in answers] == [*ids[:10], None, "eip-3"]


async def test_a_look_never_joins_a_batch_already_sent() -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1", EipStatus.AVAILABLE))
    observed = _observed(cloud, clock)
    cloud.hold = in_flight = asyncio.Event()
    first = asyncio.create_task(observed.get_eip("eip-1"))
    for _ in range(3):
        await asyncio.sleep(0)
    cloud.eips["eip-1"] = _eip("eip-1", EipStatus.IN_USE)  # changed after the first was sent
    second = asyncio.create_task(observed.get_eip("eip-1"))
    third = asyncio.create_task(observed.get_eip("eip-2"))
    await asyncio.sleep(0)
    in_flight.set()
    assert (await first).status is EipStatus.AVAILABLE  # type: ignore[union-attr]
    assert (await second).status is EipStatus.IN_USE  # type: ignore[union-attr]
    assert await third is None
    assert cloud.described() == [("eip-1",), ("eip-1", "eip-2")]
    assert list(observed.eip_looks.batches) == [1, 2]


async def test_a_failed_batch_fails_its_looks_and_the_next_look_asks_again() -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1"))
    observed = _observed(cloud, clock)
    cloud.fail = errors.Throttled("slow down", code="Throttling.User", operation="DescribeEipAddresses")
    results = await asyncio.gather(
        observed.get_eip("eip-1"), observed.get_eip("eip-2"), return_exceptions=True
    )
    assert all(isinstance(r, errors.Throttled) for r in results)
    cloud.fail = None
    assert await observed.get_eip("eip-1") is not None
    assert len(cloud.described()) == 2


async def test_a_caller_that_gives_up_does_not_cancel_the_others() -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1"))
    observed = _observed(cloud, clock)
    cloud.hold = in_flight = asyncio.Event()
    impatient = asyncio.create_task(observed.get_eip("eip-1"))
    patient = asyncio.create_task(observed.get_eip("eip-1"))
    for _ in range(3):
        await asyncio.sleep(0)
    impatient.cancel()
    in_flight.set()
    assert (await patient) is not None
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_eni_lookups_that_arrive_together_are_one_batch_and_ambiguity_stays_local() -> None:
    clock, cloud = ManualClock(), Cloud()
    eni = Eni(eni_id="eni-1", vpc_id="vpc-1", primary_ip="10.0.0.1", private_ips=("10.0.0.5", "10.0.0.9"))
    twin = Eni(eni_id="eni-2", vpc_id="vpc-1", primary_ip="10.0.0.2", private_ips=("10.0.0.9",))
    cloud.enis = {"10.0.0.5": (eni,), "10.0.0.9": (eni, twin)}
    observed = _observed(cloud, clock)
    found, ambiguous, outside = await asyncio.gather(
        observed.find_eni("10.0.0.5"), observed.find_eni("10.0.0.9"), observed.find_eni("192.0.2.1"),
        return_exceptions=True,
    )  # fmt: skip
    assert found == eni and outside is None
    assert isinstance(ambiguous, errors.InvalidState) and ambiguous.code == "PodeipAmbiguousEni"
    assert cloud.calls == [("find_enis", ("10.0.0.5", "10.0.0.9", "192.0.2.1"))]


async def test_early_eni_lookups_gather_into_one_call_and_are_remembered_per_pod_uid_and_ip() -> None:
    clock, cloud = ManualClock(), Cloud()
    eni = Eni(eni_id="eni-1", vpc_id="vpc-1", primary_ip="10.0.0.1", private_ips=("10.0.0.5", "10.0.0.6"))
    cloud.enis = {"10.0.0.5": (eni,), "10.0.0.6": (eni,)}
    observed = ObservedEips(cloud, clock=clock, eni_gather=0.05)  # type: ignore[arg-type]
    observed.find_eni_early("10.0.0.5", pod_uid="uid-a")  # pods of a burst show their IPs ...
    await asyncio.sleep(0.01)  # ... within the gathering time, not in one turn of the loop
    observed.find_eni_early("10.0.0.6", pod_uid="uid-b")
    observed.find_eni_early("10.0.0.7", pod_uid="uid-c")  # on no ENI (yet)
    observed.find_eni_early("10.0.0.5", pod_uid="uid-a")  # a later event of the same pod
    assert cloud.calls == []  # nobody waits for them
    assert await observed.find_eni("10.0.0.5", pod_uid="uid-a") == eni
    assert await observed.find_eni("10.0.0.6", pod_uid="uid-b") == eni
    assert cloud.calls == [("find_enis", ("10.0.0.5", "10.0.0.6", "10.0.0.7"))]
    assert await observed.find_eni("10.0.0.7", pod_uid="uid-c") is None  # not found: asked again
    assert await observed.find_eni("10.0.0.5", pod_uid="uid-a") == eni  # remembered
    assert await observed.find_eni("10.0.0.6", pod_uid="uid-other") == eni  # the IP went to a new pod
    assert cloud.calls[1:] == [("find_enis", ("10.0.0.7",)), ("find_enis", ("10.0.0.6",))]


@pytest.mark.parametrize(
    ("failure", "forgotten"),
    [(errors.TargetGone("gone", code="InvalidEniId.NotFound"), True), (errors.RateLimited("slot"), False)],
)
async def test_an_associate_refused_forgets_the_eni_and_one_never_sent_does_not(
    failure: errors.CloudError, forgotten: bool
) -> None:
    clock, cloud = ManualClock(), Cloud(_eip("eip-1", EipStatus.AVAILABLE))
    eni = Eni(eni_id="eni-1", vpc_id="vpc-1", primary_ip="10.0.0.1", private_ips=("10.0.0.5",))
    cloud.enis = {"10.0.0.5": (eni,)}
    observed = _observed(cloud, clock)
    assert await observed.find_eni("10.0.0.5", pod_uid="uid-a") == eni
    cloud.fail = failure
    with pytest.raises(type(failure)):
        await observed.associate_eip("eip-1", eni_id="eni-1", private_ip="10.0.0.5", client_token="t")
    await observed.find_eni("10.0.0.5", pod_uid="uid-a")
    assert len([c for c in cloud.calls if c[0] == "find_enis"]) == (2 if forgotten else 1)


# ---- paced polls and fresh looks ahead ------------------------------------------------------
async def test_polls_go_out_at_most_once_per_pace_and_a_lone_poll_goes_at_once() -> None:
    clock = ManualClock()
    cloud = Cloud(*(_eip(f"eip-{n}", EipStatus.ASSOCIATING) for n in range(4)))
    observed = _observed(cloud, clock)
    t = clock()
    assert observed.book_poll("eip-0", t + 2.0) == t + 2.0  # alone: at its time
    assert observed.book_poll("eip-1", t + 2.5) == t + 2.0 + PACE  # moved to the next batch
    assert observed.book_poll("eip-2", t + 3.0) == t + 2.0 + PACE  # joins it
    clock.advance(2.0)
    await observed.get_eip("eip-0", max_age=STEADY)
    clock.advance(PACE)
    assert (await observed.get_eip("eip-1", max_age=STEADY)).status is EipStatus.ASSOCIATING  # type: ignore[union-attr]
    cloud.eips["eip-2"] = _eip("eip-2", EipStatus.IN_USE)  # (changed after that batch)
    # eip-2's pass, right after: the batch of its poll answered it (busy, as it was then).
    assert (await observed.get_eip("eip-2", max_age=STEADY)).status is EipStatus.ASSOCIATING  # type: ignore[union-attr]
    assert [set(ids) for ids in cloud.described()] == [{"eip-0"}, {"eip-1", "eip-2"}]
    clock.advance(PACE + 0.1)  # nothing was polled for longer than the pace: at once
    assert observed.book_poll("eip-3", clock()) == clock()


async def test_a_fresh_look_ahead_rides_along_and_serves_only_while_it_is_fresh() -> None:
    clock = ManualClock()
    cloud = Cloud(_eip("eip-a"), _eip("eip-b"), _eip("eip-c"))
    observed = _observed(cloud, clock)
    observed.book_fresh("eip-a", at=clock() + 1.0, serves=1.5)
    observed.book_fresh("eip-b", at=clock() + 1.0, serves=1.5)
    observed.book_fresh("eip-c", at=clock() + 5.0, serves=1.5)  # too far ahead: not yet
    await observed.get_eip("eip-x", max_age=FRESH)
    assert [set(ids) for ids in cloud.described()] == [{"eip-x", "eip-a", "eip-b"}]
    clock.advance(1.0)
    assert await observed.get_eip("eip-a", max_age=FRESH) is not None  # 1 s old: served
    await observed.associate_eip("eip-b", eni_id="eni-1", private_ip="10.0.0.5", client_token="t")
    await observed.get_eip("eip-b", max_age=FRESH)  # our change since (any mutation): asked again
    assert len(cloud.described()) == 2
    clock.advance(4.0)
    await observed.get_eip("eip-c", max_age=FRESH)
    clock.advance(2.5)  # its pass comes late: the look that carried it is too old now
    await observed.get_eip("eip-c", max_age=FRESH)
    assert [ids for ids in cloud.described()][2:] == [("eip-c",), ("eip-c",)]


# ---- the batch limit, on the simulated provider ---------------------------------------------
async def test_many_looks_at_once_are_split_by_the_api_limit_of_50_ids() -> None:
    clock = ManualClock()
    engine = Engine(EngineConfig(), clock=clock)
    ids = [engine.seed_eip().allocation_id for _ in range(120)]
    provider = SimulatedEipProvider(engine, clock=clock, sleep=clock.sleep, rng=lambda: 0.5)
    observed = ObservedEips(provider, clock=clock)
    answers = await asyncio.gather(*(observed.get_eip(i) for i in ids))
    assert [a.allocation_id for a in answers if a] == ids
    assert list(observed.eip_looks.batches) == [120]
    sizes = [
        len(call.params["AllocationId"].split(",")) for call in engine.call_log(action="DescribeEipAddresses")
    ]
    assert sizes == [50, 50, 20]
    enis = await asyncio.gather(*(observed.find_eni(f"198.51.100.{n}") for n in range(10, 160)))
    assert all(enis)
    eni_calls = engine.call_log(action="DescribeNetworkInterfaces")
    assert [sum(key.startswith("PrivateIpAddress.") for key in call.params) for call in eni_calls] == [
        100,
        50,
    ]


def test_a_new_event_loop_starts_afresh() -> None:
    cloud = Cloud(_eip("eip-1"))
    observed = _observed(cloud, ManualClock())

    async def left_waiting() -> None:  # a look still gathering when its event loop ends
        asyncio.create_task(observed.get_eip("eip-1"))  # noqa: RUF006
        await asyncio.sleep(0)

    asyncio.run(left_waiting())
    assert cloud.described() == []
    assert asyncio.run(observed.get_eip("eip-1")) is not None


async def test_a_batch_books_no_rate_limit_slot_in_the_name_of_the_pass_that_started_it() -> None:
    """A batch runs in a task that copied the context of the first pass to look: it serves
    many pods, so it must not reserve a slot for that one pass (``ratelimit.reserve_for``), nor
    give up after that pass's short ``max_wait``: it runs with neither."""
    seen: list[tuple[object, object]] = []

    async def fetch(keys: list[str]) -> dict[str, str]:
        seen.append((ratelimit.HOLDER.get(), ratelimit.MAX_WAIT.get()))
        return {key: key.upper() for key in keys}

    coalescer: Coalescer[str, str] = Coalescer(fetch)

    async def a_pass(key: str) -> str:
        ratelimit.reserve_for(("ns", key), max_wait=0.05)
        return await coalescer.get(key)

    assert await asyncio.gather(a_pass("a"), a_pass("b")) == ["A", "B"]
    assert seen == [(None, None)]
