"""The ``podeip`` command: ``run``, ``cloud-sim``, ``lint``, ``gc``, ``adopt``, ``version``.

Each subcommand lives in the module that owns its work; this file only wires them to
argparse, and imports a module when its subcommand is chosen, so that ``podeip lint`` starts
without loading kopf or the cloud SDKs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from podeip import __version__

#: subcommand → (module with ``add_arguments(parser)`` and ``main(args) -> int``, help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("podeip.app", "run the operator"),
    "gc": ("podeip.app_gc", "run one garbage-collection pass (orphan sweep) and exit"),
    "adopt": ("podeip.app_adopt", "take over untagged EIPs of PodEIPs this operator did not create"),
    "cloud-sim": ("podeip.simulator.server", "serve the simulated Alibaba Cloud OpenAPI on loopback"),
    "lint": ("podeip.lint", "check the EIP annotations of Kubernetes manifests"),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podeip", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"podeip {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("version", help="print the version")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        if name == chosen:
            importlib.import_module(module_name).add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "version":
        print(__version__)
        return 0
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    result: int = module.main(args)
    return result
