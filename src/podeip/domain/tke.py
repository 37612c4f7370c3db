"""Tencent TKE's EIP annotations (seed 004) read as their Alibaba spellings, and what cannot work.

Teams moving from TKE to ACK bring pod templates written for TKE's ``tke-eni-ipamd``. With
``settings.tke_annotations`` on (the default) these keys are read as the *last* spelling of
ours, so that ``network.alibabacloud.com/`` and ``k8s.aliyun.com/`` always win, and a
disagreeing TKE value is reported as a conflict like any other losing spelling:

======================================================  =====================================
TKE                                                     read as
======================================================  =====================================
``tke.cloud.tencent.com/eip-attributes`` (any value)    ``pod-with-eip: "true"`` (TKE: it
                                                        turns the feature on)
``eip-attributes`` ``Bandwidth`` (string or integer)    ``eip-bandwidth``
``eip-attributes`` ``ISP``: BGP, CMCC, CTCC, CUCC       ``eip-isp``: BGP, ChinaMobile,
                                                        ChinaTelecom, ChinaUnicom
``tke.cloud.tencent.com/eip-claim-delete-policy``       ``pod-eip-release-strategy: Never``
``Never`` (absent: Follow)
``tke.cloud.tencent.com/eip-id-list``                   ``pod-eip-instanceid-list``
======================================================  =====================================

Decisions where TKE and AENC differ (README "Coming from TKE"):

- **Bandwidth.** TKE's default is 100 Mbit/s, Alibaba's 5. A pod that carries
  ``eip-attributes`` and sets no bandwidth in any spelling gets TKE's 100 (lowered to the
  highest the charge type and ``maxBandwidthMbps`` allow): the manifest keeps meaning what it
  meant, and under the default PayByTraffic metering the cap costs nothing by itself.
- **Never.** TKE keeps the EIP of any workload; AENC keeps it only for StatefulSets, custom
  stateful kinds and bare pods, since a Deployment's pod names never come back and its kept EIPs
  would be billed forever. We keep AENC's rule: on a Deployment ``Never`` becomes Follow with a
  ``ReleaseStrategyIgnored`` Warning.
- Other ``eip-attributes`` keys are not read, with a Warning naming them; invalid
  ``Bandwidth``/``ISP`` values and a delete policy other than ``Never`` are
  ``InvalidAnnotation`` errors (nothing is allocated), as for our own keys.

Whatever the setting, :func:`unsupported_on_ack` names what only TKE has: the extended
resources ``tke.cloud.tencent.com/eip`` and ``eni-ip`` in requests or limits (no ACK node
advertises them: the pod is never scheduled) and ``tke.cloud.tencent.com/networks``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from podeip import constants as c
from podeip.domain.parameters import MAX_VALUE
from podeip.domain.request import AnnotationError, AnnotationWarning, show

#: TKE's ISP names → Alibaba's (seed 004: ordinary BGP and the static single-line ISPs).
ISPS = {"BGP": "BGP", "CMCC": "ChinaMobile", "CTCC": "ChinaTelecom", "CUCC": "ChinaUnicom"}
#: TKE's default bandwidth when ``eip-attributes`` sets none (seed 004).
TKE_DEFAULT_BANDWIDTH = 100
ATTRIBUTE_KEYS = ("Bandwidth", "ISP")


def attribute_key(name: str) -> str:
    """How one field of ``eip-attributes`` is named in messages."""
    return f"{c.TKE_EIP_ATTRIBUTES}[{name}]"


@dataclass
class TkeSpellings:
    """Our suffix → (TKE key as shown, value in our spelling), and what reading them found."""

    values: dict[str, tuple[str, str]] = field(default_factory=dict)
    errors: list[AnnotationError] = field(default_factory=list)
    warnings: list[AnnotationWarning] = field(default_factory=list)
    #: ``eip-attributes`` is present (TKE's bandwidth default then applies).
    attributes: bool = False
    #: ``eip-attributes`` sets a bandwidth.
    bandwidth_set: bool = False


def read(annotations: Mapping[str, str]) -> TkeSpellings:
    """The TKE keys of a pod, translated; empty values count as absent (as ours do)."""
    found = TkeSpellings()
    raw = annotations.get(c.TKE_EIP_ATTRIBUTES)
    if raw:
        found.attributes = True
        found.values[c.POD_WITH_EIP] = (c.TKE_EIP_ATTRIBUTES, "true")
        _attributes(raw, found)
    policy = annotations.get(c.TKE_EIP_CLAIM_DELETE_POLICY)
    if policy:
        if policy.lower() == "never":
            found.values[c.RELEASE_STRATEGY] = (c.TKE_EIP_CLAIM_DELETE_POLICY, "Never")
        else:
            allowed = '"Never" keeps the EIP after the pod is gone; without the annotation it follows the pod'
            found.errors.append(
                AnnotationError(key=c.TKE_EIP_CLAIM_DELETE_POLICY, value=policy, allowed=allowed)
            )
    if id_list := annotations.get(c.TKE_EIP_ID_LIST):
        found.values[c.POD_EIP_INSTANCE_ID_LIST] = (c.TKE_EIP_ID_LIST, id_list)
    return found


def _attributes(raw: str, found: TkeSpellings) -> None:
    allowed = 'a JSON object with at most "Bandwidth" (Mbit/s) and "ISP" (BGP, CMCC, CTCC or CUCC)'
    try:
        parsed = json.loads(raw) if len(raw) <= MAX_VALUE else None
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        found.errors.append(AnnotationError(key=c.TKE_EIP_ATTRIBUTES, value=raw, allowed=allowed))
        return
    others = sorted(str(k) for k in parsed if k not in ATTRIBUTE_KEYS)
    if others:
        found.warnings.append(
            AnnotationWarning(
                reason=c.EV_ANNOTATION_IGNORED,
                message=f"{c.TKE_EIP_ATTRIBUTES} keys {', '.join(show(k) for k in others)} are not read: "
                f"only Bandwidth and ISP are; set other EIP parameters with "
                f"{c.PREFIX_NETWORK}eip-* annotations",
                key=c.TKE_EIP_ATTRIBUTES,
            )
        )
    bandwidth = parsed.get("Bandwidth")
    if isinstance(bandwidth, int) and not isinstance(bandwidth, bool):
        bandwidth = str(bandwidth)
    if bandwidth not in (None, ""):
        if isinstance(bandwidth, str):
            found.values[c.EIP_BANDWIDTH] = (attribute_key("Bandwidth"), bandwidth)
            found.bandwidth_set = True
        else:
            found.errors.append(
                AnnotationError(
                    key=attribute_key("Bandwidth"),
                    value=json.dumps(bandwidth)[:MAX_VALUE],
                    allowed='Mbit/s as a string or an integer, such as "100"',
                )
            )
    isp = parsed.get("ISP")
    if isp not in (None, ""):
        mapped = ISPS.get(isp.upper()) if isinstance(isp, str) else None
        if mapped is None:
            found.errors.append(
                AnnotationError(
                    key=attribute_key("ISP"),
                    value=isp if isinstance(isp, str) else json.dumps(isp)[:MAX_VALUE],
                    allowed="one of BGP, CMCC, CTCC, CUCC "
                    "(read as BGP, ChinaMobile, ChinaTelecom, ChinaUnicom)",
                )
            )
        else:
            found.values[c.EIP_ISP] = (attribute_key("ISP"), mapped)


def unsupported_on_ack(annotations: Mapping[str, str], resources: Collection[str]) -> list[AnnotationWarning]:
    """Warnings for what only TKE has; ``resources`` are the resource names the pod's containers
    request or limit."""
    warnings: list[AnnotationWarning] = []
    tke_resources = sorted({name for name in resources if name.startswith(c.TKE_PREFIX)})
    if tke_resources:
        names = ", ".join(tke_resources)
        warnings.append(
            AnnotationWarning(
                reason=c.EV_TKE_ONLY,
                message=f"the extended resources {names} in requests or limits exist only on TKE: no ACK "
                "node advertises them, so the pod will never be scheduled; remove them (on ACK the EIP "
                "is bound to the pod's own IP and needs no resource)",
                key=tke_resources[0],
            )
        )
    if networks := annotations.get(c.TKE_NETWORKS):
        warnings.append(
            AnnotationWarning(
                reason=c.EV_TKE_ONLY,
                message=f"{c.TKE_NETWORKS}={show(networks)} selects a TKE network and has no effect on ACK, "
                "where Terway gives every pod its own VPC IP (the EIP needs nothing more); remove it",
                key=c.TKE_NETWORKS,
            )
        )
    return warnings
