"""We test these aspects: the ownership rules of issue 10 as one decision table: which cloud
actions a PodEIP may take on an EIP given the cloud's tags and association, what the operator
recorded (binding with the PodEIP's UID, the Static claim), the proof of adoption (bound to the
live pod's IP) and the administrator's opt-in; that a PodEIP's own word (a record for another
UID, an untagged EIP) is never enough; and the tag states and holder names used in messages."""

from __future__ import annotations

from typing import Any

import pytest

from podeip import constants as c
from podeip.domain.ownership import Act, Claim, Evidence, Standing, Verdict, holder_of, judge, tag_state

CLUSTER, UID, OTHER_UID = "c-1", "uid-me", "uid-other"
OURS = {c.TAG_CLUSTER_ID: CLUSTER, c.TAG_MANAGED_BY: c.MANAGED_BY, c.TAG_PODEIP_UID: UID}
OTHERS = OURS | {c.TAG_PODEIP_UID: OTHER_UID, c.TAG_NAMESPACE: "ns", c.TAG_POD_NAME: "victim"}
OTHER_CLUSTER = OURS | {c.TAG_CLUSTER_ID: "c-2"}
HALF = {c.TAG_MANAGED_BY: c.MANAGED_BY}  # one deciding tag is enough to be "someone's"
NONE: dict[str, str] = {"team": "games"}  # user tags only: untagged in our sense
T, A, U, R = Act.TAG, Act.ASSOCIATE, Act.UNASSOCIATE, Act.RELEASE


def verdict(**overrides: Any) -> Verdict:
    fields: dict[str, Any] = {
        "allocation_type": "Auto",
        "podeip_uid": UID,
        "cluster_id": CLUSTER,
        "tags": OURS,
        "status": "Available",
    }
    return judge(Evidence(**(fields | overrides)))


# (allocation type, tags, status, recorded for, record shown, on live pod, opt-in, claim) → (standing, may)
TABLE = [
    # rule 1: Auto tagged for this PodEIP
    ("Auto", OURS, "Available", None, False, False, False, Claim.NONE, Standing.OURS, {A, R}),
    ("Auto", OURS, "InUse", UID, True, False, False, Claim.NONE, Standing.OURS, {A, U}),
    ("Auto", OURS, "InUse", "", True, False, False, Claim.NONE, Standing.OURS, {A, U}),  # older record
    ("Auto", OURS, "InUse", UID, False, False, False, Claim.NONE, Standing.OURS, {A}),  # moved elsewhere
    ("Auto", OURS, "InUse", OTHER_UID, True, False, False, Claim.NONE, Standing.OURS, {A}),  # copied record
    ("Auto", OURS, "InUse", None, False, False, False, Claim.NONE, Standing.OURS, {A}),  # no record
    ("Auto", OURS, "Associating", UID, True, False, False, Claim.NONE, Standing.OURS, {A}),
    # rule 2: Auto without any deciding tag
    ("Auto", NONE, "Available", None, False, False, False, Claim.NONE, Standing.NOT_ADOPTED, set()),
    ("Auto", NONE, "InUse", UID, True, False, False, Claim.NONE, Standing.NOT_ADOPTED, set()),
    ("Auto", NONE, "InUse", None, False, True, False, Claim.NONE, Standing.ADOPT, {T}),
    ("Auto", NONE, "Available", None, False, False, True, Claim.NONE, Standing.ADOPT, {T}),
    # rule 3: another PodEIP's, cluster's or tool's tags: nothing, even with proof or opt-in
    ("Auto", OTHERS, "InUse", UID, True, True, True, Claim.NONE, Standing.HELD_BY_OTHER, set()),
    ("Auto", OTHERS, "Available", None, False, False, True, Claim.NONE, Standing.HELD_BY_OTHER, set()),
    (
        "Auto",
        OTHER_CLUSTER,
        "Available",
        None,
        False,
        False,
        False,
        Claim.NONE,
        Standing.HELD_BY_OTHER,
        set(),
    ),
    ("Auto", HALF, "Available", None, False, False, True, Claim.NONE, Standing.HELD_BY_OTHER, set()),
    # rule 4: Static goes by the claim; never tagged or released
    ("Static", NONE, "InUse", UID, True, False, False, Claim.MINE, Standing.OURS, {A, U}),
    ("Static", NONE, "Available", None, False, False, True, Claim.MINE, Standing.OURS, {A}),
    ("Static", NONE, "InUse", None, False, True, True, Claim.MINE, Standing.OURS, {A}),
    ("Static", NONE, "InUse", UID, True, False, False, Claim.OTHER, Standing.HELD_BY_OTHER, set()),
    ("Static", NONE, "InUse", UID, True, False, False, Claim.NONE, Standing.UNCLAIMED, set()),
    ("Static", OTHERS, "InUse", UID, True, False, False, Claim.MINE, Standing.HELD_BY_OTHER, set()),
    # rule 5: anything else
    ("auto", OURS, "Available", None, False, False, True, Claim.MINE, Standing.UNKNOWN, set()),
    ("", NONE, "InUse", UID, True, True, True, Claim.MINE, Standing.UNKNOWN, set()),
]


@pytest.mark.parametrize(
    ("kind", "tags", "status", "recorded_for", "shown", "on_pod", "opt_in", "claim", "standing", "may"), TABLE
)
def test_ownership_table(
    kind: str,
    tags: dict[str, str],
    status: str,
    recorded_for: str | None,
    shown: bool,
    on_pod: bool,
    opt_in: bool,
    claim: Claim,
    standing: Standing,
    may: set[Act],
) -> None:
    result = verdict(
        allocation_type=kind,
        tags=tags,
        status=status,
        recorded_for=recorded_for,
        record_shown=shown,
        on_live_pod=on_pod,
        adoption_opted_in=opt_in,
        claim=claim,
    )
    assert (result.standing, set(result.may)) == (standing, may)
    assert result.reason


def test_warnings_name_the_holder_or_why_not_adopted() -> None:
    held = verdict(tags=OTHERS)
    assert held.event == c.EV_CLAIMED_BY_OTHER
    assert "ns/victim" in held.reason and OTHER_UID in held.reason
    refused = verdict(tags=NONE, status="InUse")
    assert refused.event == c.EV_NOT_ADOPTED
    assert "no ownership tags" in refused.reason and "podeip adopt" in refused.reason
    assert verdict(allocation_type="Static", tags=NONE, claim=Claim.OTHER).event == c.EV_CLAIMED_BY_OTHER
    assert verdict().event is None
    assert verdict(tags=NONE, on_live_pod=True, status="InUse").event is None


def test_nothing_is_ever_released_unless_tagged_for_this_podeip() -> None:
    """Exhaustively: RELEASE only for Auto, Available, with this PodEIP's three tags."""
    for kind in ("Auto", "Static", "Other"):
        for tags in (OURS, OTHERS, OTHER_CLUSTER, HALF, NONE):
            for status in ("Available", "InUse", "Unassociating"):
                for flags in range(8):
                    result = verdict(
                        allocation_type=kind,
                        tags=tags,
                        status=status,
                        recorded_for=UID,
                        record_shown=True,
                        on_live_pod=bool(flags & 1),
                        adoption_opted_in=bool(flags & 2),
                        claim=Claim.MINE if flags & 4 else Claim.NONE,
                    )
                    released = Act.RELEASE in result.may
                    assert released == (kind == "Auto" and tags is OURS and status == "Available")
                    if Act.UNASSOCIATE in result.may:
                        assert status == "InUse" and result.standing is Standing.OURS


def test_tag_state_and_holder() -> None:
    assert tag_state(OURS, cluster_id=CLUSTER, podeip_uid=UID) == "ours"
    assert tag_state(OURS, cluster_id=CLUSTER, podeip_uid="") == "foreign"
    assert tag_state(NONE, cluster_id=CLUSTER, podeip_uid=UID) == "untagged"
    assert tag_state(OTHERS, cluster_id=CLUSTER, podeip_uid=UID) == "foreign"
    assert holder_of(OTHERS) == f"PodEIP ns/victim (uid {OTHER_UID}, cluster {CLUSTER})"
