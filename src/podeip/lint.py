"""``podeip lint FILE...``: what the operator would make of a manifest's EIP annotations.

Switching from Alibaba's controller should not need a cluster to find out whether the
manifests still mean the same thing. This command reads Kubernetes manifests (multi-document
YAML or JSON, ``-`` for stdin, ``List`` objects), finds every pod template in them (a Pod
itself, ``spec.template`` of Deployments, StatefulSets, DaemonSets, Jobs, ReplicaSets and
OpenKruise workloads, ``spec.jobTemplate.spec.template`` of CronJobs, and OpenKruiseGame's
``spec.gameServerTemplate``), and prints for each the resolved EIP request, the warnings, and
the errors, one line each: ``file:doc Kind/name: key=value: what is allowed``.

The owner kind of a template is its workload's kind, so a StatefulSet's TTL is kept and a
Deployment's is reported as ignored; a bare Pod counts as stateful (docs/compatibility.md §5.2).

The operator and this command call the same parser with the same options (the flags below
mirror the settings, with the same defaults), so a value lint accepts is a value the operator
accepts, and a value it refuses gets the same message as the operator's Event.

Exit status: 0 when every annotation is valid, 1 when any is invalid, 2 when a file cannot be
read or parsed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TextIO

import yaml

from podeip.api.durations import DurationError, parse_release_after
from podeip.api.pods import resource_names
from podeip.domain.annotations import parse_pod_annotations
from podeip.domain.request import AnnotationError, ParseResult


@dataclass(frozen=True)
class Template:
    """One pod template found in a manifest."""

    source: str  # "file:doc"
    kind: str
    name: str
    owner_kind: str | None
    annotations: Mapping[str, object]
    #: Resource names the template's containers request or limit.
    resources: frozenset[str] = frozenset()

    @property
    def where(self) -> str:
        return f"{self.source} {self.kind}/{self.name}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="manifest files (YAML or JSON); - for stdin")
    parser.add_argument(
        "--custom-stateful-kinds",
        default="",
        help="comma-separated owner kinds that count as stateful (AENC's customStatefulWorkloadKinds)",
    )
    parser.add_argument("--output", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--max-bandwidth", type=int, default=500, help="highest bandwidth accepted, Mbit/s")
    parser.add_argument(
        "--max-release-after",
        default="",
        help="the cluster's maxReleaseAfter (Go duration): longer TTLs are clamped; default: no maximum",
    )
    parser.add_argument(
        "--allow-prepaid",
        action="store_true",
        help="the cluster's allowPrePaid (default: PrePaid is refused)",
    )
    parser.add_argument(
        "--no-tke-annotations",
        dest="tke_annotations",
        action="store_false",
        help="the cluster's tkeAnnotations off: tke.cloud.tencent.com/eip-* keys are not read",
    )
    parser.add_argument(
        "--virtual-node",
        action="store_true",
        help="read the templates as pods on a virtual (ECI) node with enableVirtualNode on: "
        "the eci-* aliases are left to ECI",
    )


def main(args: argparse.Namespace, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    try:
        max_release_after = parse_release_after(args.max_release_after) if args.max_release_after else None
    except DurationError as exc:
        print(f"--max-release-after: {exc}", file=sys.stderr)
        return 2
    custom = [kind.strip() for kind in args.custom_stateful_kinds.split(",") if kind.strip()]
    reports: list[dict[str, Any]] = []
    unreadable = False
    for path in args.files:
        try:
            documents = _load(path, stdin or sys.stdin)
        except (OSError, yaml.YAMLError) as exc:
            print(f"{path}: cannot read: {exc}".replace("\n", " "), file=sys.stderr)
            unreadable = True
            continue
        for template in _templates(path, documents):
            result, bad_values = _check(
                template,
                custom,
                max_release_after=max_release_after,
                max_bandwidth=args.max_bandwidth,
                allow_prepaid=args.allow_prepaid,
                eci_aliases=not args.virtual_node,
                tke_annotations=args.tke_annotations,
            )
            reports.append(_report(template, result, bad_values))
    if args.output == "json":
        json.dump(reports, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        for report in reports:
            _print_text(report, out)
    if unreadable:
        return 2
    return 1 if any(report["errors"] for report in reports) else 0


def _load(path: str, stdin: TextIO) -> list[Any]:
    if path == "-":
        return list(yaml.safe_load_all(stdin))
    with open(path, encoding="utf-8") as handle:
        return list(yaml.safe_load_all(handle))


def _templates(path: str, documents: list[Any]) -> Iterator[Template]:
    for index, document in enumerate(documents, start=1):
        items = (
            document.get("items") if isinstance(document, dict) and document.get("kind") == "List" else None
        )
        for obj in items if isinstance(items, list) else [document]:
            if isinstance(obj, dict):
                yield from _templates_of(f"{path}:{index}", obj)


def _templates_of(source: str, obj: Mapping[str, Any]) -> Iterator[Template]:
    kind = str(obj.get("kind") or "")
    meta = _dict(obj.get("metadata"))
    name = str(meta.get("name") or meta.get("generateName") or "<unnamed>")
    if kind == "Pod":
        spec = _dict(obj.get("spec"))
        yield Template(source, kind, name, None, _dict(meta.get("annotations")), resource_names(spec))
        return
    spec = _dict(obj.get("spec"))
    for template in (
        spec.get("template"),
        _dict(_dict(spec.get("jobTemplate")).get("spec")).get("template"),
        spec.get("gameServerTemplate"),
    ):
        if isinstance(template, dict):
            annotations = _dict(_dict(template.get("metadata")).get("annotations"))
            resources = resource_names(_dict(template.get("spec")))
            yield Template(source, kind, name, kind, annotations, resources)


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _check(
    template: Template,
    custom: list[str],
    *,
    max_release_after: timedelta | None,
    max_bandwidth: int,
    allow_prepaid: bool,
    eci_aliases: bool,
    tke_annotations: bool = True,
) -> tuple[ParseResult, list[AnnotationError]]:
    # The API server refuses non-string annotation values (an unquoted 5 or true in YAML).
    bad = [
        AnnotationError(
            key=str(key), value=str(value), allowed="annotation values must be strings; quote the value"
        )
        for key, value in template.annotations.items()
        if not isinstance(value, str)
    ]
    strings = {str(k): v for k, v in template.annotations.items() if isinstance(v, str)}
    result = parse_pod_annotations(
        strings,
        owner_kind=template.owner_kind,
        custom_stateful_kinds=custom,
        max_release_after=max_release_after,
        max_bandwidth=max_bandwidth,
        allow_prepaid=allow_prepaid,
        eci_aliases=eci_aliases,
        tke_annotations=tke_annotations,
        resources=template.resources,
    )
    return result, bad


def _report(template: Template, result: ParseResult, bad_values: list[AnnotationError]) -> dict[str, Any]:
    # A manifest the API server would refuse has no request, whatever the rest says.
    valid = result.request is not None and not bad_values
    request = result.request.model_dump(mode="json", exclude_none=True) if valid and result.request else None
    if request is not None and result.eip_list is not None:
        # A template's pods take the list's entries (by ordinal, or the first free one).
        del request["allocation_id"]
        request["allocation_ids"] = list(result.eip_list.entries)
    return {
        "source": template.source,
        "kind": template.kind,
        "name": template.name,
        "requested": result.requested,
        "request": request,
        "warnings": [{"reason": w.reason, "key": w.key, "message": w.message} for w in result.warnings],
        "errors": [
            {"key": e.key, "value": _safe(e.value), "allowed": e.allowed, "message": e.message}
            for e in (*bad_values, *result.errors)
        ],
        "where": template.where,
    }


def _safe(value: str) -> str:
    # A lone surrogate (from a YAML "\\ud800") cannot be written as UTF-8: escape it.
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _print_text(report: Mapping[str, Any], out: TextIO) -> None:
    where = report["where"]
    if report["request"] is not None:
        print(f"{where}: EIP request {json.dumps(report['request'], ensure_ascii=False)}", file=out)
    elif not report["requested"]:
        print(f"{where}: no EIP requested", file=out)
    for warning in report["warnings"]:
        print(f"{where}: warning: {warning['message']}", file=out)
    for error in report["errors"]:
        print(f"{where}: {error['message']}", file=out)
