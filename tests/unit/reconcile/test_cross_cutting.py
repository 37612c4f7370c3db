"""We test the cross-cutting rules of the reconciler, each kept in one place (issue 12, item 3):

- every Event and condition reason comes from the catalogue in ``constants.py``: no ``reason=``
  argument in ``src/podeip`` is a literal, an f-string, a concatenation or an enum's value; a
  failed cloud call's reason comes from the one table, for every API of the registry (never
  ``f"Failed{verb}Eip"``, which once made ``FailedDescribeEipAddressesEip``);
- reconcile log lines carry ``namespace``, ``pod``, ``podeip_uid`` and ``allocation_id`` as
  structured fields, which the JSON formatter lifts to the top level;
- the waits, backoffs and rechecks of a pass run on the injected monotonic clock: a manual
  clock drives them, wall time does not.
"""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import pytest

from podeip import cloud_apis
from podeip import constants as c
from podeip.cloud import errors as cloud_errors
from podeip.observability.logging import JsonFormatter
from podeip.reconcile.queue import Hold, Requeue

from .harness import KEY, Bed

SRC = Path(__file__).resolve().parents[3] / "src" / "podeip"
#: Calls whose ``reason`` is not an Event or condition reason: a requeue's note for the log,
#: and the HTTP reason of a Kubernetes API error.
NOT_EVENTS = frozenset({"Requeue", "ApiError", "Conflict", "Unavailable", "NotFound", "cls", "PodCondition"})
CATALOGUE_PREFIXES = ("EV_", "COND_", "READINESS_REASON_")


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _bad_reason(value: ast.expr) -> str | None:
    """Why a ``reason=`` value is not from the catalogue (None: it is, or is passed through)."""
    if isinstance(value, ast.Constant | ast.JoinedStr | ast.BinOp):
        return "a literal or computed name"
    if isinstance(value, ast.Attribute):
        owner = value.value
        if isinstance(owner, ast.Name) and owner.id in {"c", "constants"}:
            return None if value.attr.startswith(CATALOGUE_PREFIXES) else f"constants.{value.attr}"
        return "an enum's value" if value.attr == "value" else None
    if isinstance(value, ast.IfExp):
        return _bad_reason(value.body) or _bad_reason(value.orelse)
    if isinstance(value, ast.BoolOp):
        return next((bad for part in value.values if (bad := _bad_reason(part))), None)
    return None  # a name or a lookup: what it holds is checked by the run-time audits


def reasons_not_from_the_catalogue(path: Path, source: str) -> list[str]:
    """``reason=`` arguments anywhere, and (in ``reconcile/``, where a ``reason`` variable is
    always an Event's) assignments to ``reason``, whose value is not the catalogue's."""
    found = []
    in_reconcile = "reconcile" in path.parts
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Call) and _callee(node) not in NOT_EVENTS:
            for keyword in node.keywords:
                if keyword.arg == "reason" and (why := _bad_reason(keyword.value)):
                    found.append(f"{path.name}:{node.lineno}: {why}")
        elif isinstance(node, ast.Assign) and in_reconcile:
            named = any(isinstance(target, ast.Name) and target.id == "reason" for target in node.targets)
            if named and (why := _bad_reason(node.value)):
                found.append(f"{path.name}:{node.lineno}: {why}")
    return found


def test_no_reason_argument_is_a_literal_or_computed() -> None:
    found = [
        bad
        for path in sorted(SRC.rglob("*.py"))
        for bad in reasons_not_from_the_catalogue(path, path.read_text())
    ]
    assert found == []


def test_the_scan_finds_what_it_forbids() -> None:
    """The scanner itself: each forbidden form is found, each allowed one passes."""
    forms = {
        'f(reason="EipLost")': True,
        'f(reason=f"Failed{verb}Eip")': True,
        'f(reason="Failed" + verb)': True,
        "f(reason=eip.status.value)": True,
        "f(reason=c.TAG_CLUSTER_ID)": True,
        'f(reason=x or "Literal")': True,
        "f(reason=c.EV_EIP_LOST)": False,
        "f(reason=reason)": False,
        "f(reason=c.EV_A if x else c.EV_B)": False,
    }
    computed = Path("reconcile/podeip.py"), 'reason = reason or f"Failed{verb}Eip"'
    assert reasons_not_from_the_catalogue(*computed) == ["podeip.py:1: a literal or computed name"]
    for source, bad in forms.items():
        call = ast.parse(source).body[0].value  # type: ignore[attr-defined]
        assert (_bad_reason(call.keywords[0].value) is not None) is bad, source


def test_the_catalogue_holds_every_reason_constant_and_every_api_has_a_failure_reason() -> None:
    assert {value for name, value in vars(c).items() if name.startswith("EV_")} <= c.REASONS
    assert {api.name for api in cloud_apis.APIS} == set(c.FAILURE_REASONS)
    assert set(c.FAILURE_REASONS.values()) <= c.REASONS
    assert all(
        reason.startswith("Failed") and reason.endswith("Eip") for reason in c.FAILURE_REASONS.values()
    )


@pytest.mark.parametrize("operation", [*(api.name for api in cloud_apis.APIS), None, "SomeNewApi"])
async def test_a_failed_cloud_call_is_reported_with_a_catalogue_reason(operation: str | None) -> None:
    bed = Bed()
    bed.eni()
    bed.add_pod()
    await bed.settle()
    podeip = bed.podeip()
    assert podeip is not None
    error = cloud_errors.CloudError("boom", code="Whatever", operation=operation)
    with pytest.raises(Requeue):
        await bed.reconciler._cloud_failure(podeip, None, error)
    expected = c.FAILURE_REASONS.get(operation or "", c.EV_FAILED_RECONCILE)
    assert bed.world.events[-1].reason == expected
    assert expected in c.REASONS
    assert expected != "FailedDescribeEipAddressesEip"


async def test_reconcile_log_lines_carry_the_structured_fields(caplog: pytest.LogCaptureFixture) -> None:
    bed = Bed()
    bed.eni()
    bed.add_pod()
    with caplog.at_level(logging.INFO, logger="podeip.reconcile"):
        await bed.settle()
    podeip = bed.podeip()
    assert podeip is not None
    allocated = [r for r in caplog.records if "allocated" in r.getMessage()]
    assert len(allocated) == 1
    record = allocated[0]
    assert record.namespace == KEY[0] and record.pod == KEY[1]  # type: ignore[attr-defined]
    assert record.podeip_uid == podeip.metadata.uid  # type: ignore[attr-defined]
    assert record.allocation_id == podeip.spec.allocation_id  # type: ignore[attr-defined]
    entry = json.loads(JsonFormatter().format(record))
    assert entry["namespace"] == KEY[0] and entry["pod"] == KEY[1]
    assert entry["podeip_uid"] == podeip.metadata.uid and entry["allocation_id"] == podeip.spec.allocation_id
    assert entry["operation"] == "AllocateEipAddress" and "extra" not in entry


async def test_cloud_failure_log_line_names_the_podeip_and_the_call(caplog: pytest.LogCaptureFixture) -> None:
    bed = Bed()
    bed.eni()
    bed.add_pod()
    await bed.settle()
    podeip = bed.podeip()
    assert podeip is not None
    error = cloud_errors.CloudError("x", code="Y", operation="AssociateEipAddress", request_id="req-1")
    with caplog.at_level(logging.WARNING, logger="podeip.reconcile"), pytest.raises(Requeue):
        await bed.reconciler._cloud_failure(podeip, None, error)
    record = caplog.records[-1]
    assert record.podeip_uid == podeip.metadata.uid  # type: ignore[attr-defined]
    assert record.operation == "AssociateEipAddress" and record.request_id == "req-1"  # type: ignore[attr-defined]


async def test_backoffs_and_lost_eip_confirmation_run_on_the_injected_clock() -> None:
    """A backoff is a queue hold for its delay (the hold itself: test_queue.py); a vanished EIP
    is confirmed lost only after the manual clock moved LOST_CONFIRM: wall time plays no part."""
    bed = Bed()
    bed.eni()
    bed.add_pod()
    await bed.settle()
    podeip = bed.podeip()
    assert podeip is not None
    held = bed.reconciler.looks.back_off(KEY, 30.0, "test")
    assert (held.after, held.hold) == (30.0, Hold.WAIT)
    bed.clock.advance(30.0)
    bed.engine.delete_eip(podeip.spec.allocation_id)
    bed.clock.advance(60)
    first = await bed.once()
    assert first is not None and "looking again" in first.reason
    again = await bed.once()  # no time passed: still only a suspicion
    assert again is not None and "looking again" in again.reason
    bed.clock.advance(first.after)
    await bed.settle()
    assert c.EV_EIP_LOST in bed.reasons() and bed.calls("AllocateEipAddress") == 2
