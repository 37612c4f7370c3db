"""``podeip run`` as a subprocess: how the integration tests, the e2e tests, the demo and the
benchmark run the operator, exactly as a user would, so that it can be killed and restarted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from testbed.fixtures import wait_for


def operator_env() -> dict[str, str]:
    """This environment without proxies (the SDK honours them, and ignores NO_PROXY), and with
    the credential chain's instance-metadata and CLI-profile lookups off (loopback only)."""
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env.update(ALIBABA_CLOUD_ECS_METADATA_DISABLED="true", ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true")
    return env


@dataclass
class OperatorProcess:
    """``podeip run`` as a subprocess; its log is printed when a test fails."""

    env: dict[str, str]
    log_path: Path
    metrics_port: int
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def start(self, **extra_env: str) -> None:
        self.extra_env = extra_env
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "podeip", "run"],
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_for(self.healthy, timeout=60, what="the operator's /healthz")

    def healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise AssertionError(f"the operator exited:\n{self.tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/healthz", timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to release anything."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        self.process = None
        return code

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return response.read().decode()

    def sample(self, name: str) -> float:
        """The value of one unlabelled metric (0 when absent)."""
        for line in self.metrics().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
