"""We test these aspects of the TTL maximum setting: unset by default, a Go duration when set
(the same grammar as the annotation it caps), and refused when it is not a positive one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from podeip.settings import Settings


def make(**values: object) -> Settings:
    return Settings(cloud={"provider": "simulated"}, **values)  # type: ignore[arg-type]


def test_the_ttl_maximum_is_unset_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODEIP_MAX_RELEASE_AFTER", raising=False)
    assert make().max_release_after is None
    assert make(max_release_after="").max_release_after is None


def test_the_ttl_maximum_is_a_go_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODEIP_MAX_RELEASE_AFTER", "720h")
    assert make().max_release_after == timedelta(days=30)
    assert make(max_release_after="1h30m").max_release_after == timedelta(minutes=90)


@pytest.mark.parametrize("value", ["720", "0s", "-1h", "1h\n", "a week", 3600])
def test_the_ttl_maximum_refuses_what_is_not_a_positive_go_duration(value: object) -> None:
    with pytest.raises(ValidationError, match="max_release_after"):
        make(max_release_after=value)
