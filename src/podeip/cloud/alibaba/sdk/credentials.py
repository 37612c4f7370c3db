"""Credentials for the SDK, chosen explicitly from Settings, never by the default chain.

The default chain of ``alibabacloud-credentials`` reads environment variables once at
import, and falls back silently to the node's RAM role through IMDS (docs/alibaba-api.md §10);
both surprise operators and tests. We build exactly one provider: an AccessKey pair from
settings, an AccessKey pair from mounted Secret files (re-read when Alibaba rejects the key,
since Secret volumes are updated in place), RRSA (OIDC token file and roles, the token is
re-read by the library on every refresh), or the ECS instance RAM role. Secrets stay in
``SecretStr`` or inside the provider and never appear in a repr or a log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.provider.ecs_ram_role import EcsRamRoleCredentialsProvider
from alibabacloud_credentials.provider.oidc import OIDCRoleArnCredentialsProvider
from alibabacloud_credentials.provider.refreshable import Credentials
from alibabacloud_credentials.provider.static_ak import StaticAKCredentialsProvider
from alibabacloud_credentials_api import ICredentialsProvider  # type: ignore[import-untyped]

from podeip.settings import CredentialSettings


class AccessKeyFileProvider(ICredentialsProvider):  # type: ignore[misc]
    """An AccessKey pair read from two files, re-read on demand."""

    def __init__(self, *, id_file: Path, secret_file: Path) -> None:
        self._id_file, self._secret_file = id_file, secret_file
        self._pair = ("", "")
        self.reload()

    def reload(self) -> bool:
        """Read the files again; True if the pair changed."""
        pair = (self._id_file.read_text().strip(), self._secret_file.read_text().strip())
        if not all(pair):
            raise ValueError(f"empty AccessKey file in {self._id_file.parent}")
        changed, self._pair = pair != self._pair, pair
        return changed

    @property
    def access_key_id(self) -> str:
        return self._pair[0]

    def get_credentials(self) -> Credentials:
        return Credentials(
            access_key_id=self._pair[0],
            access_key_secret=self._pair[1],
            provider_name=self.get_provider_name(),
        )

    async def get_credentials_async(self) -> Credentials:
        return self.get_credentials()

    def get_provider_name(self) -> str:
        return "static_ak"

    def __repr__(self) -> str:
        return f"AccessKeyFileProvider(id_file={str(self._id_file)!r}, secret_file=<hidden>)"


def _never() -> bool:
    return False


@dataclass(frozen=True)
class CredentialHandle:
    """The credential client for the SDK, the mode chosen, and how to re-read secrets."""

    client: Any = field(repr=False)
    provider: Any = field(repr=False)
    mode: str
    #: Re-read rotated secrets; True if anything changed (only mounted files can change).
    reload: Callable[[], bool] = field(default=_never, repr=False)


def build_credentials(settings: CredentialSettings, *, region_id: str) -> CredentialHandle:
    """The first complete option wins: AccessKey, AccessKey files, RRSA, ECS RAM role."""
    provider: Any
    if settings.access_key_id and settings.access_key_secret:
        provider = StaticAKCredentialsProvider(
            access_key_id=settings.access_key_id.get_secret_value(),
            access_key_secret=settings.access_key_secret.get_secret_value(),
        )
        return CredentialHandle(
            client=CredentialClient(provider=provider), provider=provider, mode="access-key"
        )
    if settings.access_key_id_file and settings.access_key_secret_file:
        files = AccessKeyFileProvider(
            id_file=settings.access_key_id_file, secret_file=settings.access_key_secret_file
        )
        return CredentialHandle(
            client=CredentialClient(provider=files),
            provider=files,
            mode="access-key-files",
            reload=files.reload,
        )
    if settings.oidc_role_arn and settings.oidc_provider_arn and settings.oidc_token_file:
        provider = OIDCRoleArnCredentialsProvider(
            role_arn=settings.oidc_role_arn,
            oidc_provider_arn=settings.oidc_provider_arn,
            oidc_token_file_path=str(settings.oidc_token_file),
            role_session_name=settings.role_session_name,
            sts_region_id=region_id or None,
        )
        return CredentialHandle(client=CredentialClient(provider=provider), provider=provider, mode="rrsa")
    if settings.use_ecs_ram_role:
        # No background refresh thread: the async path refreshes on demand.
        provider = EcsRamRoleCredentialsProvider(
            role_name=settings.ecs_ram_role_name, async_update_enabled=False
        )
        return CredentialHandle(
            client=CredentialClient(provider=provider), provider=provider, mode="ecs-ram-role"
        )
    raise ValueError(
        "no cloud credentials configured: set an AccessKey (or its files), RRSA, or the ECS RAM role"
    )
