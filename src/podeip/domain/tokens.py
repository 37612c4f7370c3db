"""Client tokens and ownership tags: the two ways a cloud resource is tied to one PodEIP.

**ClientTokens** make a retried mutating call harmless: the same token with the same
parameters returns the first result (docs/alibaba-api.md §5). They must therefore be derivable
again after a crash, from what is on the PodEIP: its UID (which, unlike the pod's, survives a
same-name pod), the attempt counter and a hash of the frozen request. Tokens are ASCII, at most
64 characters; readable ones (``a-<podeip-uid>-<attempt>-<hash>``) are preferred, and anything
longer is hashed into ``<letter>-<hex>`` rather than cut, since a cut could make two different
calls share a token.

**Ownership tags** go on every Auto EIP at creation. Three of them decide ownership (cluster,
managed-by, PodEIP UID); two are for humans (namespace and pod name, truncated to Alibaba's 128
characters). The contract is written once, in :mod:`podeip.constants`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from podeip import constants as c
from podeip.cloud_apis import APIS
from podeip.domain.request import EipRequest

MAX_TOKEN = 64
MAX_TAG_VALUE = 128

#: Alibaba API name → the token's leading letter (docs/alibaba-api.md §5), from the API registry.
TOKEN_PREFIXES: dict[str, str] = {api.name: api.token_prefix for api in APIS if api.token_prefix}


def digest(*parts: str) -> str:
    """SHA-256 hex of the parts, unambiguously separated."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def request_hash(request: EipRequest) -> str:
    """The hash of a frozen request; equal requests (even with tags in another order) agree."""
    return digest(request.canonical_json())


def client_token(*, podeip_uid: str, operation: str, attempt: int, request_hash: str = "") -> str:
    """The ClientToken of one logical call; the same inputs always give the same token.

    ``operation`` is the API name (a key of :data:`TOKEN_PREFIXES`); ``request_hash`` ties the
    token to the parameters (for Associate: a :func:`digest` of allocation ID, ENI, IP, pod UID).
    """
    letter = TOKEN_PREFIXES[operation]
    if attempt < 0:
        raise ValueError(f"attempt must not be negative: {attempt}")
    readable = f"{letter}-{podeip_uid}-{attempt}" + (f"-{request_hash[:12]}" if request_hash else "")
    if len(readable) <= MAX_TOKEN and readable.isascii() and readable.isprintable():
        return readable
    return f"{letter}-" + digest(podeip_uid, str(attempt), request_hash)[: MAX_TOKEN - 2]


def ownership_tags(*, cluster_id: str, podeip_uid: str, namespace: str, pod_name: str) -> dict[str, str]:
    """The five tags every Auto EIP is created with."""
    if not cluster_id or not podeip_uid:
        raise ValueError("ownership tags need a cluster ID and a PodEIP UID")
    return {
        c.TAG_CLUSTER_ID: cluster_id[:MAX_TAG_VALUE],
        c.TAG_MANAGED_BY: c.MANAGED_BY,
        c.TAG_PODEIP_UID: podeip_uid[:MAX_TAG_VALUE],
        c.TAG_NAMESPACE: namespace[:MAX_TAG_VALUE],
        c.TAG_POD_NAME: pod_name[:MAX_TAG_VALUE],
    }


def owned_by(tags: Mapping[str, str], *, cluster_id: str, podeip_uid: str) -> bool:
    """Whether the deciding tags name this cluster, this operator and this PodEIP (R6, R8)."""
    return (
        bool(cluster_id and podeip_uid)
        and tags.get(c.TAG_CLUSTER_ID) == cluster_id[:MAX_TAG_VALUE]
        and tags.get(c.TAG_MANAGED_BY) == c.MANAGED_BY
        and tags.get(c.TAG_PODEIP_UID) == podeip_uid[:MAX_TAG_VALUE]
    )
