"""Fixtures of the provider contract suite: one engine, two ways to reach it.

``provider`` is parametrized: ``simulated`` talks to the engine in process; ``alibaba`` is
the real provider on the official SDK, talking HTTP to the simulator on 127.0.0.1. Both share
one ``ManualClock`` with the engine, so backoff, rate limits and async transitions take no
real time. The session-wide guard of ``tests/conftest.py`` keeps every connection on loopback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest
from pydantic import SecretStr

from podeip.cloud.alibaba.sdk.clients import make_clients
from podeip.cloud.alibaba.sdk.credentials import build_credentials
from podeip.cloud.alibaba.sdk.provider import AlibabaEipProvider
from podeip.cloud.clock import ManualClock
from podeip.cloud.provider import EipProvider
from podeip.settings import CloudSettings, CredentialSettings, RateLimit
from podeip.simulator.engine import Engine, EngineConfig
from podeip.simulator.provider import SimulatedEipProvider
from podeip.simulator.server import RunningSimulator, start_in_thread

PROVIDERS = ["simulated", "alibaba"]
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
        simulator = start_in_thread(engine, credentials={ACCESS_KEY_ID: ACCESS_KEY_SECRET})
        stops.append(simulator.stop)
        return alibaba_provider(
            simulator, clock=clock, rate_limits=rate_limits, access_key_id=access_key_id, secret=secret
        )

    yield make
    for stop in stops:
        stop()


def alibaba_provider(
    simulator: RunningSimulator,
    *,
    clock: ManualClock,
    rate_limits: Mapping[str, RateLimit] | None,
    access_key_id: str,
    secret: str,
) -> AlibabaEipProvider:
    """The real provider on the official SDK, pointed at the simulator over HTTP."""
    settings = CloudSettings(
        region_id=simulator.engine.config.region_id,
        vpc_id=simulator.engine.config.vpc_id,
        vpc_endpoint=simulator.url,
        ecs_endpoint=simulator.url,
        credentials=CredentialSettings(
            access_key_id=SecretStr(access_key_id), access_key_secret=SecretStr(secret)
        ),
    )
    credentials = build_credentials(settings.credentials, region_id=settings.region_id)
    return AlibabaEipProvider(
        clients=make_clients(settings, credential=credentials.client),
        credentials=credentials,
        region_id=settings.region_id,
        vpc_id=settings.vpc_id,
        rate_limits=rate_limits or {},
        clock=clock,
        sleep=clock.sleep,
        rng=lambda: 0.5,
    )


@pytest.fixture
def provider(make_provider: ProviderFactory) -> EipProvider:
    return make_provider()
