"""We test these aspects of the kept-EIP expiry (``keptEipExpiry``) in the pure release decision
and its setting:

- off (None) changes nothing: Never keeps forever, a TTL runs as written;
- under Never and TTL alike the PodEIP ends as Follow would (Auto released, Static forgotten)
  once ``goneSince + expiry`` passes, never before, whichever of TTL and expiry comes first;
- the warning is due when a tenth of the expiry is left (at most 24h before), and the next
  check is the warning moment, then the expiry;
- a pod of the same name coming back still takes its EIP; Follow and fail-safe keeps are not
  affected;
- the setting is off by default, a Go duration of at least 5m, lowered only by the test-only
  ``testing_kept_eip_expiry_minimum``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from podeip.api.podeip import AllocationType, ReleaseStrategy
from podeip.domain.release import Action, Decision, PodPresence, decide, warn_at
from podeip.settings import Settings

GONE_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def run(after: timedelta, **overrides: Any) -> Decision:
    arguments: dict[str, Any] = {
        "allocation_type": AllocationType.AUTO,
        "strategy": ReleaseStrategy.NEVER,
        "release_after": None,
        "pod": PodPresence.GONE,
        "gone_since": GONE_AT,
        "now": GONE_AT + after,
        "kept_expiry": 10 * HOUR,
    }
    return decide(**(arguments | overrides))


def test_off_changes_nothing() -> None:
    assert run(1000 * HOUR, kept_expiry=None).action is Action.UNASSOCIATE_AND_KEEP
    ttl = run(1000 * HOUR, kept_expiry=None, strategy=ReleaseStrategy.TTL, release_after="2000h")
    assert ttl.action is Action.UNASSOCIATE_AND_KEEP and ttl.expires_at is None


@pytest.mark.parametrize(
    ("allocation_type", "final"),
    [(AllocationType.AUTO, Action.RELEASE), (AllocationType.STATIC, Action.UNASSOCIATE_AND_FORGET)],
)
@pytest.mark.parametrize(
    ("strategy", "release_after"), [(ReleaseStrategy.NEVER, None), (ReleaseStrategy.TTL, "20h")]
)
def test_the_expiry_ends_a_kept_eip_as_follow_would_and_never_before(
    allocation_type: AllocationType, final: Action, strategy: ReleaseStrategy, release_after: str | None
) -> None:
    common = {"allocation_type": allocation_type, "strategy": strategy, "release_after": release_after}
    before = run(10 * HOUR - timedelta(microseconds=1), **common)
    assert before.action is Action.UNASSOCIATE_AND_KEEP and not before.expired
    assert before.expires_at == GONE_AT + 10 * HOUR
    at = run(10 * HOUR, **common)
    assert at.action is final and at.expired


def test_a_shorter_ttl_wins_and_carries_no_expiry() -> None:
    decision = run(HOUR, strategy=ReleaseStrategy.TTL, release_after="2h")
    assert decision.expires_at is None and decision.next_check == GONE_AT + 2 * HOUR
    assert run(2 * HOUR, strategy=ReleaseStrategy.TTL, release_after="2h").action is Action.RELEASE


def test_the_warning_is_due_when_a_tenth_is_left_at_most_a_day_before() -> None:
    assert warn_at(GONE_AT + 10 * HOUR, 10 * HOUR) == GONE_AT + 9 * HOUR
    assert warn_at(GONE_AT + 720 * HOUR, 720 * HOUR) == GONE_AT + 696 * HOUR
    early = run(8 * HOUR)
    assert not early.warn_expiry and early.next_check == GONE_AT + 9 * HOUR
    due = run(9 * HOUR)
    assert due.warn_expiry and due.next_check == GONE_AT + 10 * HOUR


def test_a_returning_pod_takes_its_eip_after_the_expiry_and_follow_is_unchanged() -> None:
    assert run(100 * HOUR, pod=PodPresence.REBORN).action is Action.ASSOCIATE
    assert run(100 * HOUR, pod=PodPresence.UNRELATED).action is Action.RELEASE
    follow = run(0 * HOUR, strategy=ReleaseStrategy.FOLLOW)
    assert follow.action is Action.RELEASE and not follow.expired


def test_a_fail_safe_keep_is_not_expired() -> None:
    decision = run(100 * HOUR, strategy=ReleaseStrategy.TTL, release_after="bogus")
    assert decision.action is Action.UNASSOCIATE_AND_KEEP and decision.note


def test_the_first_sight_of_a_gone_pod_starts_the_expiry_now() -> None:
    now = GONE_AT + 100 * HOUR
    decision = run(100 * HOUR, gone_since=None)
    assert decision.action is Action.UNASSOCIATE_AND_KEEP and decision.gone_since == now
    assert decision.expires_at == now + 10 * HOUR


def make(**values: object) -> Settings:
    return Settings(cloud={"provider": "simulated"}, **values)  # type: ignore[arg-type]


def test_the_setting_is_off_by_default_and_at_least_5m(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODEIP_KEPT_EIP_EXPIRY", raising=False)
    assert make().kept_eip_expiry is None
    assert make(kept_eip_expiry="5m").kept_eip_expiry == timedelta(minutes=5)
    monkeypatch.setenv("PODEIP_KEPT_EIP_EXPIRY", "720h")
    assert make().kept_eip_expiry == timedelta(days=30)
    for value in ("4m59s", "1s", "0s", "300"):
        with pytest.raises(ValidationError, match=r"kept_eip_expiry|Go duration"):
            make(kept_eip_expiry=value)
    lowered = make(kept_eip_expiry="5s", testing_kept_eip_expiry_minimum="1s")
    assert lowered.kept_eip_expiry == timedelta(seconds=5)
