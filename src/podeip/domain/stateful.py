"""Release strategies and the stateful-workload rule that limits them.

``pod-eip-release-strategy`` is ``Follow``, ``Never`` or a Go duration (TTL). AENC documents
TTL and Never as "supported only for stateful replica controllers": a kept EIP is useful only
if a pod with the same name comes back, which happens for StatefulSets (and bare pods that a
user re-creates), never for Deployments, whose pod names change. A Deployment with ``Never``
would keep billed EIPs forever. So for other owners the strategy falls back to ``Follow``, and
the caller reports it (docs/compatibility.md §5.2).

A pod is stateful when its controller owner's kind, lower-cased and with the API group ignored,
is ``statefulset`` (this covers OpenKruise's Advanced StatefulSet) or one of the configured
``customStatefulWorkloadKinds``, or when it has no controller owner at all. Custom kinds may be
written as ``Kind``, ``group/Kind`` or ``Kind.group``; only the kind is compared.

``Follow`` and ``Never`` are matched without regard to case (``never`` is accepted): AENC's
documentation spells them capitalized, and reading a lower-case spelling as a malformed
duration would only turn a clear intent into an error. Nothing is trimmed (the rule for every
annotation value, :mod:`podeip.domain.annotations`): ``"10m\\n"`` is invalid, as in Go.

A TTL may be any positive Go duration. An administrator's maximum (``podeip.maxReleaseAfter``,
unset by default) clamps a longer one: the EIP is kept for the maximum, ``releaseAfter``
records the maximum in Go's spelling, and the caller warns. A cap never refuses: refusing
would leave the pod with no EIP at all, which is worse for the user than a shorter TTL.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from podeip import constants
from podeip.api.durations import format_go_duration, parse_release_after
from podeip.api.podeip import ReleaseStrategy


@dataclass(frozen=True)
class ReleasePolicy:
    strategy: ReleaseStrategy
    #: The user's duration string, verbatim (TTL only); it goes into ``releaseAfter``.
    release_after: str | None = None
    ttl: timedelta | None = None
    #: The user's duration when it was longer than the maximum and clamped (None: not clamped).
    clamped_from: str | None = None


FOLLOW = ReleasePolicy(ReleaseStrategy.FOLLOW)
NEVER = ReleasePolicy(ReleaseStrategy.NEVER)


def parse_release_strategy(text: str, *, max_release_after: timedelta | None = None) -> ReleasePolicy:
    """``Follow``, ``Never`` or a TTL (clamped to ``max_release_after``); raises ``DurationError``
    for anything else."""
    if text.lower() == "follow":
        return FOLLOW
    if text.lower() == "never":
        return NEVER
    ttl = parse_release_after(text)
    if max_release_after is not None and ttl > max_release_after:
        return ReleasePolicy(
            ReleaseStrategy.TTL,
            release_after=format_go_duration(max_release_after),
            ttl=max_release_after,
            clamped_from=text,
        )
    return ReleasePolicy(ReleaseStrategy.TTL, release_after=text, ttl=ttl)


def _kind(name: str) -> str:
    # "apps.kruise.io/StatefulSet" → "statefulset"; "StatefulSet.apps.kruise.io" → "statefulset"
    return name.rsplit("/", 1)[-1].split(".", 1)[0].strip().lower()


def is_stateful(owner_kind: str | None, *, custom_kinds: Collection[str] = ()) -> bool:
    """Whether TTL and Never apply to a pod whose controller owner has this kind (None: bare)."""
    if owner_kind is None:
        return True
    kinds = constants.STATEFUL_KINDS | {_kind(k) for k in custom_kinds if k.strip()}
    return _kind(owner_kind) in kinds


def effective_policy(
    policy: ReleasePolicy, *, owner_kind: str | None, custom_kinds: Collection[str] = ()
) -> tuple[ReleasePolicy, bool]:
    """The policy that applies to this pod, and whether the requested one was overridden."""
    if policy.strategy is ReleaseStrategy.FOLLOW or is_stateful(owner_kind, custom_kinds=custom_kinds):
        return policy, False
    return FOLLOW, True
