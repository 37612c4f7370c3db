"""Running the simulated cloud: ``podeip cloud-sim`` and ``start_in_thread`` for tests.

The HTTP front runs on its own asyncio loop, in the main thread for the CLI or in a daemon
thread for pytest, so that a test (or a kopf operator in the same process) can use the real
SDK against it while reading the very engine it serves. It listens on loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import re
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

from podeip.settings import RateLimit
from podeip.simulator.engine import PUBLISHED_LIMITS, Engine, EngineConfig
from podeip.simulator.faults import Fault
from podeip.simulator.http import build_app


def check_loopback(host: str) -> None:
    """Refuse any address that is not loopback: the simulator must never face a network."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the simulator listens on loopback only, not {host!r}")


@dataclass
class RunningSimulator:
    """A simulator serving in a background thread. ``endpoint`` is what the SDK's Config wants."""

    engine: Engine
    host: str
    port: int
    _loop: asyncio.AbstractEventLoop = field(repr=False)
    _runner: web.AppRunner = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


async def _serve(
    engine: Engine, *, host: str, port: int, credentials: Mapping[str, str]
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(build_app(engine, credentials=credentials), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, int(runner.addresses[0][1])


def start_in_thread(
    engine: Engine, *, credentials: Mapping[str, str], host: str = "127.0.0.1", port: int = 0
) -> RunningSimulator:
    """Serve ``engine`` on ``host:port`` (0: any free port) until ``stop()``."""
    check_loopback(host)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="podeip-cloud-sim", daemon=True)
    thread.start()
    runner, actual_port = asyncio.run_coroutine_threadsafe(
        _serve(engine, host=host, port=port, credentials=credentials), loop
    ).result(timeout=10)
    return RunningSimulator(
        engine=engine, host=host, port=actual_port, _loop=loop, _runner=runner, _thread=thread
    )


# --- the CLI ------------------------------------------------------------------------------------
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")


def parse_seconds(text: str) -> float:
    """``150ms``, ``2s``, ``1.5`` (seconds), ``1m``."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[match.group(2)]
    return float(match.group(1)) * scale


def parse_latency(text: str) -> tuple[float, float]:
    """``50ms-200ms`` (uniform in the range) or one duration."""
    low, _, high = text.partition("-")
    return parse_seconds(low), parse_seconds(high or low)


def parse_rate_limit(text: str) -> tuple[str, RateLimit]:
    """``AllocateEipAddress=120/min`` (burst: a tenth of the minute's budget, at least 1)."""
    match = re.match(r"^(\w+)=(\d+(?:\.\d+)?)/min$", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected ACTION=N/min, got {text!r}")
    per_minute = float(match.group(2))
    return match.group(1), RateLimit(per_minute=per_minute, burst=max(1, int(per_minute // 10)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen", default="127.0.0.1:18080", help="HOST:PORT on loopback (port 0: any free port)"
    )
    parser.add_argument("--access-key-id", required=True, help="the AccessKey ID clients must sign with")
    parser.add_argument("--access-key-secret", required=True, help="its secret")
    parser.add_argument("--region", default="cn-hangzhou")
    parser.add_argument("--vpc-id", default=EngineConfig.vpc_id)
    parser.add_argument("--vpc-cidr", action="append", help="VPC range (repeatable; default 198.51.100.0/24)")
    parser.add_argument("--latency", type=parse_latency, default=(0.0, 0.0), help="per call, e.g. 50ms-200ms")
    parser.add_argument(
        "--transition-delay", type=parse_seconds, default=1.0, help="Associating/Unassociating/Releasing"
    )
    parser.add_argument("--quota", type=int, default=20, help="EIPs per account")
    parser.add_argument(
        "--rate-limit", type=parse_rate_limit, action="append", default=[], help="ACTION=N/min"
    )
    parser.add_argument(
        "--published-limits", action="store_true", help="throttle at Alibaba's published limits"
    )
    parser.add_argument(
        "--fault", type=Fault.parse, action="append", default=[], help="ACTION:CODE[:times=N|every=N|commit]"
    )


def config_from(args: argparse.Namespace) -> EngineConfig:
    limits = (
        {action: RateLimit(per_minute=n, burst=max(1, n // 10)) for action, n in PUBLISHED_LIMITS.items()}
        if args.published_limits
        else {}
    )
    limits.update(dict(args.rate_limit))
    return EngineConfig(
        # Empty values (a chart rendering unset values) mean the simulator's defaults.
        region_id=args.region or EngineConfig.region_id,
        vpc_id=args.vpc_id or EngineConfig.vpc_id,
        vpc_cidrs=tuple(args.vpc_cidr or EngineConfig.vpc_cidrs),
        quota=args.quota,
        transition_delay=args.transition_delay,
        latency=args.latency,
        rate_limits=limits,
        # Milliseconds since the epoch, times 1000: a restarted simulator never hands out an ID
        # of the one before (17 digits suffice until the year 5138).
        first_serial=time.time_ns() // 1_000_000 * 1000,
    )


def main(args: argparse.Namespace) -> int:
    host, _, port_text = args.listen.rpartition(":")
    try:
        check_loopback(host)
    except ValueError as error:
        print(f"podeip cloud-sim: {error}")
        return 2
    engine = Engine(config_from(args))
    for fault in args.fault:
        engine.faults.add(fault)
    asyncio.run(
        _run_forever(
            engine, host=host, port=int(port_text), credentials={args.access_key_id: args.access_key_secret}
        )
    )
    return 0


async def _run_forever(engine: Engine, *, host: str, port: int, credentials: Mapping[str, str]) -> None:
    runner, actual_port = await _serve(engine, host=host, port=port, credentials=credentials)
    print(
        f"podeip cloud-sim listening on http://{host}:{actual_port} (region {engine.config.region_id})",
        flush=True,
    )
    stopped = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        await runner.cleanup()
