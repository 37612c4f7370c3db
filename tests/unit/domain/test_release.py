"""We test these aspects: the release matrix of docs/compatibility.md §5 for Auto and Static under
Follow, TTL and Never, with a fixed clock: when the pod is present, gone, reborn under the same
owner, or replaced by an unrelated pod; the TTL anchored on the moment the pod was first seen
gone (recorded once, never on podLastSeen; unrecorded or in the future means now), driven by an
injected clock over a whole gone period; user deletion; fail-safe keeps for unknown or
unparsable values; and how the pod's presence is classified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podeip.api.podeip import AllocationType, ReleaseStrategy
from podeip.api.pods import PodView
from podeip.domain.release import Action, Decision, PodPresence, decide, pod_presence

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
AUTO, STATIC = AllocationType.AUTO, AllocationType.STATIC
FOLLOW, TTL, NEVER = ReleaseStrategy.FOLLOW, ReleaseStrategy.TTL, ReleaseStrategy.NEVER
PRESENT, GONE, REBORN, UNRELATED = (
    PodPresence.PRESENT,
    PodPresence.GONE,
    PodPresence.REBORN,
    PodPresence.UNRELATED,
)


def run(**overrides: Any) -> Decision:
    arguments: dict[str, Any] = {
        "allocation_type": AUTO,
        "strategy": FOLLOW,
        "release_after": None,
        "pod": GONE,
        "gone_since": NOW - timedelta(minutes=1),
        "now": NOW,
    }
    return decide(**(arguments | overrides))


@pytest.mark.parametrize(
    ("allocation_type", "strategy", "pod", "action"),
    [
        (AUTO, FOLLOW, PRESENT, Action.KEEP_ASSOCIATED),
        (AUTO, FOLLOW, GONE, Action.RELEASE),
        (AUTO, FOLLOW, REBORN, Action.RELEASE),
        (AUTO, FOLLOW, UNRELATED, Action.RELEASE),
        (STATIC, FOLLOW, GONE, Action.UNASSOCIATE_AND_FORGET),
        (STATIC, FOLLOW, REBORN, Action.UNASSOCIATE_AND_FORGET),
        (AUTO, NEVER, PRESENT, Action.KEEP_ASSOCIATED),
        (AUTO, NEVER, GONE, Action.UNASSOCIATE_AND_KEEP),
        (AUTO, NEVER, REBORN, Action.ASSOCIATE),
        (AUTO, NEVER, UNRELATED, Action.REFUSE),
        (STATIC, NEVER, GONE, Action.UNASSOCIATE_AND_KEEP),
        (STATIC, NEVER, REBORN, Action.ASSOCIATE),
        (AUTO, TTL, PRESENT, Action.KEEP_ASSOCIATED),
        (AUTO, TTL, GONE, Action.UNASSOCIATE_AND_KEEP),
        (AUTO, TTL, REBORN, Action.ASSOCIATE),
        (AUTO, TTL, UNRELATED, Action.REFUSE),
        (STATIC, TTL, GONE, Action.UNASSOCIATE_AND_KEEP),
    ],
)
def test_release_matrix_before_any_ttl_expires(
    allocation_type: AllocationType, strategy: ReleaseStrategy, pod: PodPresence, action: Action
) -> None:
    release_after = "10m" if strategy is TTL else None
    decision = run(allocation_type=allocation_type, strategy=strategy, release_after=release_after, pod=pod)
    assert decision.action is action
    assert decision.note is None


def test_present_pod_refreshes_podlastseen() -> None:
    assert run(pod=PRESENT, strategy=TTL, release_after="10m") == Decision(
        Action.KEEP_ASSOCIATED, last_seen=NOW
    )


def test_ttl_release_waits_until_gone_since_plus_release_after() -> None:
    gone = NOW - timedelta(minutes=9, seconds=59)
    waiting = run(strategy=TTL, release_after="10m", gone_since=gone)
    assert waiting == Decision(Action.UNASSOCIATE_AND_KEEP, next_check=gone + timedelta(minutes=10))
    assert (
        run(strategy=TTL, release_after="10m", gone_since=NOW - timedelta(minutes=10)).action
        is Action.RELEASE
    )
    expired_static = run(
        allocation_type=STATIC, strategy=TTL, release_after="10m", gone_since=NOW - timedelta(hours=1)
    )
    assert expired_static.action is Action.UNASSOCIATE_AND_FORGET


def test_ttl_honours_go_duration_forms() -> None:
    gone = NOW - timedelta(minutes=5, seconds=29)
    assert run(strategy=TTL, release_after="5m30s", gone_since=gone).action is Action.UNASSOCIATE_AND_KEEP
    assert (
        run(strategy=TTL, release_after="5m30s", gone_since=gone - timedelta(seconds=1)).action
        is Action.RELEASE
    )


def test_first_sight_of_a_gone_pod_starts_the_ttl_now_and_asks_to_record_it() -> None:
    decision = run(strategy=TTL, release_after="5m0s", gone_since=None)
    assert decision == Decision(
        Action.UNASSOCIATE_AND_KEEP, last_seen=NOW, gone_since=NOW, next_check=NOW + timedelta(minutes=5)
    )
    never = run(strategy=NEVER, gone_since=None)
    assert (never.gone_since, never.last_seen) == (NOW, NOW)
    assert run(strategy=FOLLOW, gone_since=None) == Decision(Action.RELEASE)


def test_gone_since_in_the_future_counts_as_now_and_is_rewritten() -> None:
    decision = run(strategy=TTL, release_after="10m", gone_since=NOW + timedelta(days=365))
    assert decision == Decision(
        Action.UNASSOCIATE_AND_KEEP, last_seen=NOW, gone_since=NOW, next_check=NOW + timedelta(minutes=10)
    )


class Clock:
    """An injected clock, advanced by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.mark.parametrize("period", [timedelta(seconds=3), timedelta(minutes=1), timedelta(minutes=10)])
@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=1), timedelta(seconds=59)])
def test_a_gone_pod_is_released_within_one_period_after_the_ttl_never_before(
    period: timedelta, offset: timedelta
) -> None:
    """Passes every GC period, as the collector runs them; the pod was last seen present just
    before it went (a podLastSeen up to one period old, which must not shorten the TTL)."""
    ttl = timedelta(minutes=10)
    clock = Clock(NOW + offset)
    # The last pass that saw the pod (podLastSeen is refreshed at most once per period).
    present = decide(
        allocation_type=AUTO, strategy=TTL, release_after="10m", pod=PRESENT, gone_since=None, now=clock.now
    )
    assert present.last_seen == clock.now and present.gone_since is None
    clock.advance(period - timedelta(microseconds=1))  # the pod goes just before the next pass
    recorded: datetime | None = None
    first_seen_gone = clock.now
    while True:
        decision = decide(
            allocation_type=AUTO,
            strategy=TTL,
            release_after="10m",
            pod=GONE,
            gone_since=recorded,
            now=clock.now,
        )
        if decision.gone_since is not None:
            assert recorded is None, "the moment is recorded once"
            recorded = decision.gone_since
        if decision.action is Action.RELEASE:
            break
        assert decision.action is Action.UNASSOCIATE_AND_KEEP
        assert decision.next_check == first_seen_gone + ttl
        clock.advance(period)
    assert recorded == first_seen_gone
    assert first_seen_gone + ttl <= clock.now < first_seen_gone + ttl + period


def test_a_restart_neither_shortens_nor_lengthens_the_ttl() -> None:
    """After a restart the recorded moment is read back: the deadline is the same, whether the
    restart came a second or nine minutes into the TTL."""
    gone = NOW
    for restart_after in (timedelta(seconds=1), timedelta(minutes=9)):
        after_restart = run(strategy=TTL, release_after="10m", gone_since=gone, now=gone + restart_after)
        assert after_restart.next_check == gone + timedelta(minutes=10)
        assert after_restart.gone_since is None  # nothing is rewritten
    assert run(
        strategy=TTL, release_after="10m", gone_since=gone, now=gone + timedelta(minutes=10)
    ).action is (Action.RELEASE)


def test_reborn_pod_gets_the_kept_eip_even_after_the_ttl_ran_out() -> None:
    decision = run(strategy=TTL, release_after="10m", pod=REBORN, gone_since=NOW - timedelta(days=2))
    assert decision == Decision(Action.ASSOCIATE, last_seen=NOW)


def test_unrelated_pod_does_not_stop_the_ttl() -> None:
    assert run(
        strategy=TTL, release_after="1m", pod=UNRELATED, gone_since=NOW - timedelta(minutes=2)
    ).action is (Action.RELEASE)


@pytest.mark.parametrize("strategy", [FOLLOW, TTL, NEVER, "Sometimes"])
@pytest.mark.parametrize("pod", [PRESENT, GONE, REBORN])
def test_user_deleting_the_podeip_releases_auto_and_forgets_static(strategy: str, pod: PodPresence) -> None:
    assert run(strategy=strategy, release_after="10m", pod=pod, podeip_deleted=True).action is Action.RELEASE
    static = run(allocation_type=STATIC, strategy=strategy, pod=pod, podeip_deleted=True)
    assert static.action is Action.UNASSOCIATE_AND_FORGET


@pytest.mark.parametrize("allocation_type", [STATIC, "Shared", ""])
@pytest.mark.parametrize("strategy", [FOLLOW, TTL, NEVER])
def test_nothing_but_auto_is_ever_released(allocation_type: str, strategy: ReleaseStrategy) -> None:
    for pod in PodPresence:
        for podeip_deleted in (False, True):
            decision = run(
                allocation_type=allocation_type,
                strategy=strategy,
                release_after="1s",
                pod=pod,
                gone_since=NOW - timedelta(days=30),
                podeip_deleted=podeip_deleted,
            )
            assert decision.action is not Action.RELEASE


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"strategy": "Sometimes"}, "unknown"),
        ({"allocation_type": "Shared", "strategy": FOLLOW}, "unknown"),
        ({"strategy": TTL, "release_after": "ten minutes"}, "not a positive Go duration"),
        ({"strategy": TTL, "release_after": None}, "not a positive Go duration"),
        ({"strategy": TTL, "release_after": "0s"}, "not a positive Go duration"),
        ({"strategy": TTL, "release_after": "-5m"}, "not a positive Go duration"),
    ],
)
def test_unknown_or_unparsable_values_keep_the_eip_and_say_why(fields: dict[str, Any], fragment: str) -> None:
    decision = run(gone_since=NOW - timedelta(days=30), **fields)
    assert decision.action is Action.UNASSOCIATE_AND_KEEP
    assert decision.note is not None and fragment in decision.note
    assert run(pod=UNRELATED, gone_since=NOW - timedelta(days=30), **fields).action is Action.REFUSE


def pod(uid: str, owner: str | None = "StatefulSet", phase: str = "Running") -> PodView:
    refs = [{"kind": owner, "name": "web", "controller": True}] if owner else []
    return PodView.from_body(
        {"metadata": {"name": "web-0", "uid": uid, "ownerReferences": refs}, "status": {"phase": phase}}
    )


@pytest.mark.parametrize(
    ("view", "recorded_owner", "asks", "presence"),
    [
        (None, "StatefulSet/web", True, GONE),
        (pod("u1", phase="Succeeded"), "StatefulSet/web", True, GONE),
        (pod("u2", phase="Failed"), "StatefulSet/web", True, GONE),
        (pod("u1"), "StatefulSet/web", True, PRESENT),
        (pod("u1", phase="Pending"), "StatefulSet/web", False, PRESENT),
        (pod("u2"), "StatefulSet/web", True, REBORN),
        (pod("u2"), "", True, REBORN),
        (pod("u2", owner=None), "", True, REBORN),
        (pod("u2"), "StatefulSet/web", False, UNRELATED),
        (pod("u2", owner="Deployment"), "StatefulSet/web", True, UNRELATED),
        (pod("u2", owner=None), "StatefulSet/web", True, UNRELATED),
    ],
)
def test_pod_presence_tells_the_same_pod_a_reborn_one_and_a_stranger_apart(
    view: PodView | None, recorded_owner: str, asks: bool, presence: PodPresence
) -> None:
    assert (
        pod_presence(pod=view, recorded_uid="u1", recorded_owner=recorded_owner, asks_for_eip=asks)
        is presence
    )
