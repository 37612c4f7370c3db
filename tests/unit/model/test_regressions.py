"""Counterexamples the model-based test (``test_model.py``) found, each as a named test on the
in-process harness. The docstring of each says what the bug was.

The last two edit a PodEIP's ``spec.allocationType`` or ``spec.allocationID`` after creation,
which the chart's ValidatingAdmissionPolicy refuses to anyone but the operator: they test the
operator's own guard, for a cluster where that policy is off (an earlier model did such edits).
"""

from __future__ import annotations

from typing import Any

from podeip import constants as c
from podeip.cloud.models import EipStatus
from unit.reconcile.harness import KEY, Bed

K = c.PREFIX_K8S
AUTO = {K + c.POD_WITH_EIP: "true"}
POD_IP = "198.51.100.11"


def user_podeip(allocation_id: str, kind: str) -> dict[str, Any]:
    """A PodEIP as a user writes it: spec only, no finalizer, no annotation of ours."""
    return {
        "metadata": {"name": KEY[1], "namespace": KEY[0]},
        "spec": {
            "allocationID": allocation_id,
            "allocationType": {"type": kind, "releaseStrategy": "Follow"},
        },
    }


def mutations_of(bed: Bed, allocation_id: str) -> list[str]:
    return [call.action for call in bed.engine.mutations(allocation_id=allocation_id)]


async def test_an_auto_pod_never_takes_the_static_eip_a_user_podeip_names() -> None:
    """Found by I4 (a mutation of an EIP that is neither ours nor named by the pod). A user
    created a Static PodEIP naming their own unattached EIP; a pod of the same name asking for
    a new (Auto) EIP then "adopted" that PodEIP as AENC's, claimed the Static EIP and associated
    it: ``_asks_for`` checked the EIP name for Static pods only, not that the pod asked for the
    PodEIP's allocation type at all."""
    bed = Bed()
    theirs = bed.engine.seed_eip(status=EipStatus.AVAILABLE).allocation_id
    await bed.world.create(user_podeip(theirs, "Static"))
    bed.add_pod(AUTO, pod_ip=POD_IP, owner="StatefulSet")
    await bed.settle(horizon=120)
    assert mutations_of(bed, theirs) == []
    # (Follow: the PodEIP of an unrelated pod is forgotten; the pod then gets an EIP of its own.)
    podeip = bed.podeip()
    assert podeip is not None and podeip.spec.allocation_id not in ("", theirs)
    assert bed.allocated() == {podeip.spec.allocation_id}


async def test_an_edited_podeip_spec_binds_nothing() -> None:
    """Found by I4. The pod's Auto EIP was unbound out of band, then a user edited the PodEIP
    to Static, naming their own unattached EIP: the next pass claimed and associated it. A
    PodEIP we created keeps its request frozen (R2); a spec that no longer matches it is now
    refused with a Warning, and nothing is done from it."""
    bed = Bed()
    theirs = bed.engine.seed_eip(status=EipStatus.AVAILABLE).allocation_id
    bed.add_pod(AUTO, pod_ip=POD_IP)
    await bed.settle()
    podeip = bed.podeip()
    assert podeip is not None and podeip.status is not None and podeip.status.eip_address
    bed.engine.edit_eip(
        podeip.spec.allocation_id, status=EipStatus.AVAILABLE, instance_id="", instance_type="", private_ip=""
    )
    patch = {
        "spec": {"allocationID": theirs, "allocationType": {"type": "Static", "releaseStrategy": "Follow"}}
    }
    await bed.world.patch_metadata_and_spec(*KEY, patch, resource_version="")
    bed.clock.advance(60)
    await bed.settle(horizon=120)
    assert mutations_of(bed, theirs) == []
    assert c.EV_CONFLICT in bed.reasons()


async def test_a_static_podeip_edited_to_auto_never_tags_its_eip() -> None:
    """Found by I3 (a Static EIP tagged as ours). A pod's Static EIP was bound; a user edited the
    PodEIP's type to Auto: the ownership gate saw an untagged Auto EIP bound to the live pod's
    IP, took that as proof, and tagged the user's Static EIP as ours, so that the pod's going
    (Follow) would release it for good."""
    bed = Bed()
    static = bed.engine.seed_eip(status=EipStatus.AVAILABLE).allocation_id
    bed.add_pod({K + c.POD_EIP_INSTANCE_ID: static}, pod_ip=POD_IP)
    await bed.settle()
    assert mutations_of(bed, static) == ["AssociateEipAddress"]
    patch = {"spec": {"allocationType": {"type": "Auto", "releaseStrategy": "Follow"}}}
    await bed.world.patch_metadata_and_spec(*KEY, patch, resource_version="")
    bed.clock.advance(60)
    await bed.settle(horizon=120)
    bed.delete_pod()
    await bed.settle(horizon=600)
    assert "TagResources" not in mutations_of(bed, static)
    assert "ReleaseEipAddress" not in mutations_of(bed, static)
    assert any(e.allocation_id == static for e in bed.engine.eips())
