"""``podeip adopt``: take over untagged EIPs of PodEIPs the operator did not create, explicitly.

Prints, for every Auto PodEIP (or those named), what it takes over and what it leaves alone and
why; ``--dry-run`` changes nothing. See :mod:`podeip.reconcile.adopt` and README "How ownership
works".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from podeip.app import connected, run_unless_refused
from podeip.observability.logging import configure_logging
from podeip.reconcile import adopt
from podeip.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file (default: in-cluster ServiceAccount)"
    )
    parser.add_argument("-n", "--namespace", help="only PodEIPs of this namespace")
    parser.add_argument("names", nargs="*", help="only these PodEIPs (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be taken over, tag nothing")


def main(args: argparse.Namespace) -> int:
    overrides = {"kubeconfig": args.kubeconfig} if args.kubeconfig else {}
    settings = Settings(**overrides)
    configure_logging(settings.log_level, "text")

    async def take_over() -> None:
        async with connected(settings) as deps:
            findings = await adopt.run(
                deps, namespace=args.namespace, names=tuple(args.names), dry_run=args.dry_run
            )
        print(json.dumps(adopt.as_rows(findings), indent=2))

    return run_unless_refused(take_over())
