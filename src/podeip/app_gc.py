"""``podeip gc``: one garbage-collection pass, then exit (docs/reliability.md R8, T15).

Runs the operator's own orphan sweep (the same code, the same breakers) with the same settings,
for a drain before uninstalling or a manual check. ``--dry-run`` reports what would be released.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from podeip.app import connected, run_unless_refused
from podeip.observability.logging import configure_logging
from podeip.reconcile import gc
from podeip.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file (default: KUBECONFIG, in-cluster, ~/.kube/config)"
    )
    parser.add_argument("--context", dest="kube_context", help="kubeconfig context (default: current)")
    parser.add_argument("--dry-run", action="store_true", help="report orphans, release nothing")


def main(args: argparse.Namespace) -> int:
    overrides = {name: getattr(args, name) for name in ("kubeconfig", "kube_context") if getattr(args, name)}
    settings = Settings(**overrides)
    configure_logging(settings.log_level, "text")

    async def sweep() -> int:
        async with connected(settings) as deps:
            result = await gc.run_pass(deps, dry_run=args.dry_run)
        print(json.dumps(result.__dict__, indent=2))
        return 1 if result.aborted else 0

    return run_unless_refused(sweep())
