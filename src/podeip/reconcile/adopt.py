"""``podeip adopt``: an administrator's explicit take-over of untagged EIPs (issue 10).

The operator adopts the untagged Auto EIP of a PodEIP it did not create (AENC's, Terway's
migration) on its own only with proof: the cloud shows the EIP bound to exactly that PodEIP's
live pod. For the rest (EIPs that are unbound during a migration, say) an administrator takes
them over here: each Auto PodEIP's EIP is judged by :mod:`podeip.domain.ownership` with the
administrator's opt-in, and an untagged one that exactly one PodEIP names is tagged for that
PodEIP. Nothing else is changed: EIPs tagged for another PodEIP or cluster, EIPs that two
PodEIPs name, and Static EIPs are listed with the reason and left alone. ``dry_run`` prints
what would be taken over and changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from podeip import constants as c
from podeip.api.podeip import PodEIP
from podeip.domain import ownership
from podeip.reconcile import steps
from podeip.reconcile.deps import Deps, podeip_ref


@dataclass(frozen=True)
class Finding:
    podeip: str
    allocation_id: str
    #: ``adopted``, ``would adopt`` (dry run), ``already ours`` or ``left alone``.
    outcome: str
    reason: str


async def run(
    d: Deps, *, namespace: str | None = None, names: tuple[str, ...] = (), dry_run: bool = False
) -> list[Finding]:
    every = [PodEIP.model_validate(body) for body in await d.podeips.list()]
    naming = Counter(p.spec.allocation_id for p in every if p.spec.allocation_id)
    findings: list[Finding] = []
    for podeip in every:
        meta, spec = podeip.metadata, podeip.spec
        if (namespace and meta.namespace != namespace) or (names and meta.name not in names):
            continue
        if spec.allocation_type.type.value != "Auto" or not spec.allocation_id:
            continue
        label = f"{meta.namespace}/{meta.name}"
        eip = await d.cloud.get_eip(spec.allocation_id)
        if eip is None:
            findings.append(Finding(label, spec.allocation_id, "left alone", "the EIP does not exist"))
            continue
        evidence = ownership.Evidence(
            allocation_type="Auto",
            podeip_uid=meta.uid or "",
            cluster_id=d.cluster_id,
            tags=eip.tags,
            status=eip.status.value,
            adoption_opted_in=True,
        )
        verdict = ownership.judge(evidence)
        if verdict.standing is ownership.Standing.OURS:
            findings.append(Finding(label, eip.allocation_id, "already ours", verdict.reason))
        elif verdict.standing is not ownership.Standing.ADOPT:
            findings.append(Finding(label, eip.allocation_id, "left alone", verdict.reason))
        elif naming[eip.allocation_id] > 1:
            why = f"{naming[eip.allocation_id]} PodEIPs name it (one EIP, one PodEIP): delete the others"
            findings.append(Finding(label, eip.allocation_id, "left alone", why))
        elif dry_run:
            where = f" (InUse on {eip.instance_id} {eip.private_ip_address})" if eip.instance_id else ""
            why = f"untagged {eip.ip_address}{where}: would be tagged for this PodEIP"
            findings.append(Finding(label, eip.allocation_id, "would adopt", why))
        else:
            await d.cloud.tag_eips([eip.allocation_id], tags=steps.owner_tags(d, podeip))
            message = f"EIP {eip.allocation_id} tagged as managed by this PodEIP (podeip adopt)"
            await d.events.normal(podeip_ref(podeip), reason=c.EV_ADOPTED, message=message)
            why = f"untagged {eip.ip_address}: tagged for this PodEIP"
            findings.append(Finding(label, eip.allocation_id, "adopted", why))
    return findings


def as_rows(findings: list[Finding]) -> list[dict[str, str]]:
    return [asdict(f) for f in findings]
