"""Fixtures of the provider contract suite: one engine, two ways to reach it.

``provider`` is parametrized: ``simulated`` talks to the engine in process; ``alibaba`` is
the real provider on the official SDK, talking HTTP to the simulator on 127.0.0.1. Both share
one ``ManualClock`` with the engine, so backoff, rate limits and async transitions take no
real time. The session-wide guard of ``tests/conftest.py`` keeps every connection on loopback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest

from podeip.cloud.clock import ManualClock
from podeip.cloud.provider import EipProvider
from podeip.cloud.simulated.engine import Engine, EngineConfig
from podeip.cloud.simulated.provider import SimulatedEipProvider
from podeip.settings import RateLimit

PROVIDERS = ["simulated"]
ACCESS_KEY_ID = "AKIDSIMULATOR"
ACCESS_KEY_SECRET = "simulator-secret-not-real"
#: Slow enough that every async state can be observed, free on the manual clock.
TRANSITION_DELAY = 2.0

ProviderFactory = Callable[..., EipProvider]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def engine(clock: ManualClock) -> Engine:
    return Engine(EngineConfig(transition_delay=TRANSITION_DELAY), clock=clock)


@pytest.fixture(params=PROVIDERS)
def make_provider(
    request: pytest.FixtureRequest, engine: Engine, clock: ManualClock
) -> Iterator[ProviderFactory]:
    """Build providers of the parametrized kind on the shared engine and clock."""
    stops: list[Callable[[], None]] = []

    def make(
        *,
        rate_limits: Mapping[str, RateLimit] | None = None,
        secret: str = ACCESS_KEY_SECRET,
        access_key_id: str = ACCESS_KEY_ID,
    ) -> EipProvider:
        if request.param == "simulated":
            return SimulatedEipProvider(
                engine, rate_limits=rate_limits, clock=clock, sleep=clock.sleep, rng=lambda: 0.5
            )
        from tests.contract.sdk import alibaba_provider

        provider, stop = alibaba_provider(
            engine, clock=clock, rate_limits=rate_limits, access_key_id=access_key_id, secret=secret
        )
        stops.append(stop)
        return provider

    yield make
    for stop in stops:
        stop()


@pytest.fixture
def provider(make_provider: ProviderFactory) -> EipProvider:
    return make_provider()
