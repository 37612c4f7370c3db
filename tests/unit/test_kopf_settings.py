"""We test what ``podeip run`` hands kopf for its watches: a paged start-up listing and
short-lived per-object workers by default (the memory of a restart among many pods that ask for
no EIP, BENCHMARKS.md "Memory at start-up"), both settable from the environment, with 0 meaning
kopf's own unpaged listing, and nonsense refused at startup."""

from __future__ import annotations

import kopf
import pytest
from pydantic import ValidationError

from podeip.app import kopf_settings
from podeip.settings import Settings


def make() -> Settings:
    return Settings(cloud={"provider": "simulated"})  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_watch_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODEIP_WATCH__LIST_CHUNK_SIZE", raising=False)
    monkeypatch.delenv("PODEIP_WATCH__WORKER_IDLE_SECONDS", raising=False)


def test_by_default_kopf_lists_in_pages_and_lets_idle_workers_go() -> None:
    configured = kopf_settings(make())
    kopf_defaults = kopf.OperatorSettings()
    assert configured.watching.chunk_size == 100
    assert configured.queueing.idle_timeout == 0.5
    # Both differ from what kopf does unless told: an unpaged listing, workers kept 5 s.
    assert kopf_defaults.watching.chunk_size is None
    assert kopf_defaults.queueing.idle_timeout > configured.queueing.idle_timeout


def test_the_environment_sets_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODEIP_WATCH__LIST_CHUNK_SIZE", "2000")
    monkeypatch.setenv("PODEIP_WATCH__WORKER_IDLE_SECONDS", "2.5")
    configured = kopf_settings(make())
    assert configured.watching.chunk_size == 2000
    assert configured.queueing.idle_timeout == 2.5


def test_a_chunk_size_of_zero_is_one_unpaged_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODEIP_WATCH__LIST_CHUNK_SIZE", "0")
    # None, not 0: kopf then sends no ``limit`` at all, as before this setting existed.
    assert kopf_settings(make()).watching.chunk_size is None


def test_the_rest_of_the_kopf_configuration_is_unchanged() -> None:
    configured = kopf_settings(make())
    assert configured.watching.server_timeout == 300
    assert configured.networking.request_timeout == 60
    assert configured.persistence.finalizer == "podeip-controller.alibabacloud.com/kopf-finalizer"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PODEIP_WATCH__LIST_CHUNK_SIZE", "-1"),
        ("PODEIP_WATCH__LIST_CHUNK_SIZE", "many"),
        ("PODEIP_WATCH__WORKER_IDLE_SECONDS", "0"),
        ("PODEIP_WATCH__WORKER_IDLE_SECONDS", "-0.5"),
    ],
)
def test_nonsense_is_refused_at_startup(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("PODEIP_WATCH__").lower()):
        make()
