"""``AlibabaEipProvider``: the EipProvider on Alibaba's official Python SDKs.

Only the transport is here; everything else is shared with the simulated provider
(``EipOperations``). Calls use the SDK's ``*_with_options_async`` methods: on tea-openapi
0.4.x they run on aiohttp and do not block the loop as long as the SDK's own retries stay off
(its backoff is ``time.sleep``; we never set ``retry_options``); the remaining blocking work
per call is small (signing, and loading the CA bundle for HTTPS), so a thread pool would buy
nothing but threads that cannot be cancelled (docs/alibaba-api.md §7, §8).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from podeip.cloud import errors, retry
from podeip.cloud.alibaba.openapi import wire
from podeip.cloud.alibaba.openapi.operations import EipOperations
from podeip.cloud.alibaba.sdk import translate
from podeip.cloud.alibaba.sdk.clients import Clients, make_clients
from podeip.cloud.alibaba.sdk.credentials import CredentialHandle, build_credentials
from podeip.cloud.clock import Clock, Sleep
from podeip.settings import CloudSettings, RateLimit


class AlibabaEipProvider(EipOperations):
    def __init__(
        self,
        *,
        clients: Clients,
        credentials: CredentialHandle | None = None,
        region_id: str,
        vpc_id: str,
        rate_limits: Mapping[str, RateLimit],
        policies: Mapping[str, retry.BackoffPolicy] | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(
            region_id=region_id,
            vpc_id=vpc_id,
            rate_limits=rate_limits,
            policies=policies,
            clock=clock,
            sleep=sleep,
            rng=rng,
        )
        self._clients = clients
        self._credentials = credentials

    @classmethod
    def from_settings(
        cls, settings: CloudSettings, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> AlibabaEipProvider:
        credentials = build_credentials(settings.credentials, region_id=settings.region_id)
        return cls(
            clients=make_clients(settings, credential=credentials.client),
            credentials=credentials,
            region_id=settings.region_id,
            vpc_id=settings.vpc_id,
            rate_limits=settings.rate_limits,
            policies=retry.policies_from(settings),
            clock=clock,
            sleep=sleep,
        )

    async def _call(self, action: str, params: wire.Params) -> Mapping[str, Any]:
        try:
            return await self._send(action, params)
        except errors.Forbidden as error:
            # A rotated Secret: re-read the mounted key files and try once more.
            if (
                self._credentials is None
                or not translate.is_credential_error(error)
                or not self._credentials.reload()
            ):
                raise
            return await self._send(action, params)

    async def _send(self, action: str, params: wire.Params) -> Mapping[str, Any]:
        service, _, method = translate.ACTIONS[action]
        client = self._clients.vpc if service == "vpc" else self._clients.ecs
        try:
            response = await getattr(client, method)(
                translate.request_for(action, params), self._clients.runtime
            )
            body = response.body.to_map() if response.body is not None else {}
        except Exception as exc:
            raise translate.error_from(exc, operation=action) from exc
        return dict(body)
