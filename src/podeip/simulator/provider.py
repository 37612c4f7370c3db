"""``SimulatedEipProvider``: the EipProvider on the in-process engine, for fast tests.

It shares everything but the transport with the Alibaba provider (``EipOperations``): the
parameters are flattened exactly as the SDK puts them on the query string and handed to the
engine, whose errors already carry the classes of ``podeip.cloud.alibaba.openapi.codes``. A lost answer
(commit-then-drop) surfaces as ``Transport``, as a dropped connection does over HTTP.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from typing import Any

from podeip.cloud import retry
from podeip.cloud.alibaba.openapi import wire
from podeip.cloud.alibaba.openapi.operations import EipOperations
from podeip.cloud.clock import Clock, Sleep
from podeip.settings import CloudSettings, RateLimit
from podeip.simulator.engine import Engine


class SimulatedEipProvider(EipOperations):
    def __init__(
        self,
        engine: Engine,
        *,
        rate_limits: Mapping[str, RateLimit] | None = None,
        policies: Mapping[str, retry.BackoffPolicy] | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(
            region_id=engine.config.region_id,
            vpc_id=engine.config.vpc_id,
            rate_limits=rate_limits or {},
            policies=policies,
            clock=clock or engine.clock,
            sleep=sleep,
            rng=rng,
        )
        self.engine = engine

    @classmethod
    def from_settings(cls, settings: CloudSettings, *, engine: Engine) -> SimulatedEipProvider:
        """The provider the operator builds when ``cloud.provider`` is ``simulated``."""
        return cls(engine, rate_limits=settings.rate_limits, policies=retry.policies_from(settings))

    async def _call(self, action: str, params: wire.Params) -> Mapping[str, Any]:
        ticket = self.engine.begin(action)
        if ticket.latency > 0:
            await self._sleep(ticket.latency)
        return self.engine.handle(action, wire.flatten(params), ticket=ticket)
