"""We test these aspects: which owners count as stateful (group ignored, custom kinds in any
spelling, bare pods), how release strategies are parsed, and when they fall back to Follow."""

from __future__ import annotations

from datetime import timedelta

import pytest

from podeip.api.durations import DurationError
from podeip.api.podeip import ReleaseStrategy
from podeip.domain.stateful import (
    FOLLOW,
    NEVER,
    ReleasePolicy,
    effective_policy,
    is_stateful,
    parse_release_strategy,
)

WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    ("owner_kind", "custom", "expected"),
    [
        (None, (), True),
        ("StatefulSet", (), True),
        ("STATEFULSET", (), True),
        ("Deployment", (), False),
        ("ReplicaSet", (), False),
        ("CloneSet", (), False),
        ("GameServerSet", ["gameserverset"], True),
        ("GameServerSet", ["game.kruise.io/GameServerSet"], True),
        ("GameServerSet", ["GameServerSet.game.kruise.io"], True),
        ("GameServerSet", ["", " "], False),
    ],
)
def test_stateful_owners_are_statefulsets_custom_kinds_and_bare_pods(
    owner_kind: str | None, custom: list[str], expected: bool
) -> None:
    assert is_stateful(owner_kind, custom_kinds=custom) is expected


def test_release_strategy_words_and_durations() -> None:
    assert parse_release_strategy("Follow", max_release_after=WEEK) == FOLLOW
    assert parse_release_strategy("never", max_release_after=WEEK) == NEVER
    for blank in (" never ", "Never\n", "10m\n", " 10m"):
        with pytest.raises(DurationError):
            parse_release_strategy(blank, max_release_after=WEEK)
    ttl = parse_release_strategy("5m0s", max_release_after=WEEK)
    assert ttl == ReleasePolicy(ReleaseStrategy.TTL, release_after="5m0s", ttl=timedelta(minutes=5))
    with pytest.raises(DurationError):
        parse_release_strategy("TTL", max_release_after=WEEK)


def test_a_ttl_above_the_maximum_is_clamped_and_none_means_no_maximum() -> None:
    clamped = parse_release_strategy("720h", max_release_after=WEEK)
    assert clamped == ReleasePolicy(
        ReleaseStrategy.TTL, release_after="168h0m0s", ttl=WEEK, clamped_from="720h"
    )
    unlimited = parse_release_strategy("720h", max_release_after=None)
    assert unlimited == ReleasePolicy(ReleaseStrategy.TTL, release_after="720h", ttl=timedelta(days=30))


def test_stateless_owners_fall_back_to_follow_and_say_so() -> None:
    ttl = parse_release_strategy("10m", max_release_after=WEEK)
    assert effective_policy(ttl, owner_kind="Deployment") == (FOLLOW, True)
    assert effective_policy(NEVER, owner_kind="Job") == (FOLLOW, True)
    assert effective_policy(FOLLOW, owner_kind="Job") == (FOLLOW, False)
    assert effective_policy(ttl, owner_kind="StatefulSet") == (ttl, False)
