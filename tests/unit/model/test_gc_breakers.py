"""We test what the orphan sweep's existing tests (tests/unit/reconcile/test_orphan_sweep.py,
test_gc_rules.py) leave open, on the in-process harness: a dry run, through ``podeip gc
--dry-run`` and through ``gc.dryRun``, mutates nothing at all (no cloud mutation, no Event, no
Kubernetes write) even where a real pass would leave a bandwidth package and warn about a tag
mismatch; the cap's boundary (``max(3, 10 %)`` candidates are released, one more aborts the
pass); a PodEIP whose allocation is not recorded yet protects every EIP tagged with its UID;
a spent hourly budget holds a later pass's orphans back without releasing any.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from podeip import app_gc, cli
from podeip import constants as c
from podeip.cloud.models import EipStatus
from podeip.reconcile import gc
from podeip.settings import CloudSettings, GCSettings, Settings
from unit.reconcile.harness import CLUSTER, KEY, Bed

GRACE = 10 * 60


def tagged(bed: Bed, uid: str, **fields: Any) -> str:
    tags = {c.TAG_CLUSTER_ID: CLUSTER, c.TAG_MANAGED_BY: c.MANAGED_BY, c.TAG_PODEIP_UID: uid}
    return bed.engine.seed_eip(status=EipStatus.AVAILABLE, tags=tags, **fields).allocation_id


def podeip(bed: Bed, name: str, uid: str, allocation_id: str) -> None:
    bed.world.podeips[("ns", name)] = {
        "apiVersion": f"{c.GROUP}/{c.VERSION}",
        "kind": c.KIND,
        "metadata": {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": "1"},
        "spec": {
            "allocationID": allocation_id,
            "allocationType": {"type": "Auto", "releaseStrategy": "Follow"},
        },
    }


def released(bed: Bed) -> list[str]:
    return [call.allocation_id for call in bed.engine.mutations() if call.action == "ReleaseEipAddress"]


def world_state(bed: Bed) -> tuple[Any, ...]:
    w = bed.world
    bodies = json.dumps(sorted(w.podeips.items()), sort_keys=True)
    return w.version, bodies, len(w.events), len(w.pod_annotations)


def sweepable(bed: Bed) -> dict[str, str]:
    """A live PodEIP with its EIP, an old orphan in a bandwidth package, an EIP whose tag names
    another UID than the PodEIP naming it (a mismatch): what a real pass acts on."""
    package = bed.engine.add_bandwidth_package()
    live = tagged(bed, "uid-live")
    podeip(bed, "live", "uid-live", live)
    mismatched = tagged(bed, "uid-overwritten")
    podeip(bed, "victim", "uid-victim", mismatched)
    orphan = tagged(bed, "uid-gone", bandwidth_package_id=package)
    bed.engine.packages[package].members[orphan] = "BINDED"
    bed.clock.advance(GRACE + 1)
    return {"live": live, "mismatched": mismatched, "orphan": orphan, "package": package}


def test_podeip_gc_dry_run_mutates_nothing(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """The command line, over the harness: it reports the orphan and the mismatch, and neither
    the cloud nor Kubernetes changes; the same pass without --dry-run does act (so the dry run
    is what held it back)."""
    bed = Bed()
    ids = sweepable(bed)

    @contextlib.asynccontextmanager
    async def connected(settings: Any, **kwargs: Any) -> AsyncIterator[Any]:
        yield bed.deps

    monkeypatch.setattr(app_gc, "connected", connected)
    monkeypatch.setattr(app_gc, "configure_logging", lambda *args, **kwargs: None)
    monkeypatch.setattr(app_gc, "Settings", lambda **kwargs: bed.settings)
    before = world_state(bed)
    assert cli.main(["gc", "--dry-run"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["candidates"] == [ids["orphan"]] and report["released"] == []
    assert report["tag_mismatches"] == {ids["mismatched"]: ["ns/victim"]}
    assert bed.engine.mutations() == []
    assert world_state(bed) == before
    assert app_gc.main(argparse.Namespace(kubeconfig=None, kube_context=None, dry_run=False)) == 0
    actions = [call.action for call in bed.engine.mutations()]
    assert actions == ["RemoveCommonBandwidthPackageIp", "ReleaseEipAddress"]
    assert [event.reason for event in bed.world.events] == [c.EV_TAG_MISMATCH]


async def test_the_dry_run_setting_mutates_nothing() -> None:
    """``gc.dryRun`` (the operator's own passes) is the same as ``podeip gc --dry-run``."""
    settings = Settings(cloud=CloudSettings(provider="simulated"), gc=GCSettings(dry_run=True))
    bed = Bed(settings)
    ids = sweepable(bed)
    before = world_state(bed)
    sweep = await gc.run_pass(bed.deps)
    assert sweep.candidates == [ids["orphan"]] and sweep.released == [] and sweep.aborted is None
    assert bed.engine.mutations() == [] and world_state(bed) == before
    assert len(bed.deps.released_at) == 0  # a dry run spends none of the hourly budget


@pytest.mark.parametrize(("orphans", "aborted"), [(3, False), (4, True)])
async def test_the_cap_boundary(orphans: int, aborted: bool) -> None:
    """With 20 tagged EIPs the cap is max(3, 2) = 3: three orphans are released, four abort."""
    bed = Bed()
    for i in range(20 - orphans):
        podeip(bed, f"live-{i}", f"uid-live-{i}", tagged(bed, f"uid-live-{i}"))
    gone = [tagged(bed, f"uid-gone-{i}") for i in range(orphans)]
    bed.clock.advance(GRACE + 1)
    sweep = await gc.run_pass(bed.deps)
    assert sorted(sweep.candidates) == sorted(gone)
    if aborted:
        assert sweep.aborted and "too many" in sweep.aborted and released(bed) == []
    else:
        assert sweep.aborted is None and sorted(released(bed)) == sorted(gone)


async def test_a_podeip_without_its_allocation_recorded_protects_its_tagged_eips() -> None:
    """R8.3: the Allocate answer was lost (or the process died before recording it): the EIP
    tagged with the PodEIP's UID is that PodEIP's, however old; an orphan beside it still goes."""
    bed = Bed()
    podeip(bed, KEY[1], "uid-pending", "")
    pending = tagged(bed, "uid-pending")
    podeip(bed, "other", "uid-other", tagged(bed, "uid-other"))
    orphan = tagged(bed, "uid-gone")
    bed.clock.advance(24 * 3600)
    sweep = await gc.run_pass(bed.deps)
    assert sweep.candidates == [orphan] and released(bed) == [orphan]
    assert any(e.allocation_id == pending for e in bed.engine.eips())


async def test_a_spent_hourly_budget_defers_and_releases_nothing() -> None:
    """Three releases in the hour (the cap of a small account): a fourth orphan found later in
    the same hour is deferred, listed, and not released; it goes once the hour has passed."""
    bed = Bed()
    podeip(bed, "live", "uid-live", tagged(bed, "uid-live"))
    first = [tagged(bed, f"uid-a{i}") for i in range(3)]
    bed.clock.advance(GRACE + 1)
    assert sorted((await gc.run_pass(bed.deps)).released) == sorted(first)
    late = tagged(bed, "uid-late")
    bed.clock.advance(GRACE + 1)
    sweep = await gc.run_pass(bed.deps)
    assert sweep.deferred == [late] and sweep.released == [] and late not in released(bed)
    bed.clock.advance(3600)
    assert (await gc.run_pass(bed.deps)).released == [late]
