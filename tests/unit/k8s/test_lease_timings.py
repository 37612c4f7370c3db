"""We test that the leader Lease timings always leave the holder time to stop acting before
another instance may take the Lease (renew period < renew deadline < duration), in the
timings object and in the settings that feed it."""

from __future__ import annotations

import pydantic
import pytest

from podeip.k8s.leadership import LeaseTimings
from podeip.settings import LeaderSettings


def test_the_settings_defaults_are_the_timings_defaults() -> None:
    timings, leader = LeaseTimings(), LeaderSettings()
    assert (timings.duration, timings.renew_every, timings.renew_deadline, timings.retry_every) == (
        leader.lease_duration_seconds,
        leader.renew_every_seconds,
        leader.renew_deadline_seconds,
        leader.retry_every_seconds,
    )


@pytest.mark.parametrize(
    "bad", [{"renew_deadline": 15.0}, {"renew_every": 10.0}, {"renew_deadline": 4.0}, {"retry_every": 0.0}]
)
def test_timings_that_would_let_two_instances_act_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="leader Lease"):
        LeaseTimings(**bad)


def test_settings_refuse_a_deadline_not_shorter_than_the_duration() -> None:
    with pytest.raises(pydantic.ValidationError, match="renew_deadline_seconds"):
        LeaderSettings(lease_duration_seconds=10, renew_deadline_seconds=10)
