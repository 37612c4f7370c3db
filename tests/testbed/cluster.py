"""A real local Kubernetes control plane on loopback, supervised from Python.

Why: this machine kind has no Docker engine, so kind cannot run. We start etcd,
kube-apiserver (RBAC, token authentication, ServiceAccount tokens), kube-controller-manager,
kube-scheduler and kwok (fake kubelets) from binaries that ``hack/testbed-build.sh`` builds
from Go modules. Every listener is bound to 127.0.0.1; the fake node and pod IPs that kwok
hands out (TEST-NET-2, 198.51.100.0/24; the benchmark's larger clusters use the RFC 2544
benchmarking range 198.18.0.0/15) are never contacted.

Used three ways: the pytest session fixture (``tests/conftest.py``), ``make cluster-up`` /
``make cluster-down`` (a detached cluster whose state lives in ``.local/``), and the demo.

    python tests/testbed/cluster.py up [--workdir DIR]   # prints how to use the kubeconfig
    python tests/testbed/cluster.py down
    python tests/testbed/cluster.py status
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
LOCAL = REPO / ".local"
STATE_FILE = LOCAL / "testbed" / "state.json"

#: Fake nodes managed by kwok: name → podCIDR (TEST-NET-2, a /26 each).
FAKE_NODES = {
    "kwok-node-0": "198.51.100.0/26",
    "kwok-node-1": "198.51.100.64/26",
    "kwok-node-2": "198.51.100.128/26",
}
POD_NETWORK = "198.51.100.0/24"
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
LOOPBACK = "127.0.0.1"


def versions() -> dict[str, str]:
    """The pinned versions (tests/testbed/versions.env), shared with the build script."""
    pins: dict[str, str] = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pins[key.strip()] = value.strip()
    return pins


def cache_dir() -> Path:
    if os.environ.get("PODEIP_TESTBED_CACHE"):
        return Path(os.environ["PODEIP_TESTBED_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "podeip-testbed"


def binary(name: str) -> Path:
    """Path of a cached binary; a clear error when the test bed has not been built."""
    pins = versions()
    component = {
        "etcd": f"etcd-v{pins['ETCD_VERSION']}",
        "kwok": f"kwok-v{pins['KWOK_VERSION']}",
        "helm": f"helm-v{pins['HELM_VERSION']}",
    }.get(name, f"kubernetes-v{pins['KUBERNETES_VERSION']}")
    path = cache_dir() / component / "bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make testbed` (hack/testbed-build.sh) to build it")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _write_pki(workdir: Path, extra_ips: Sequence[str] = ()) -> None:
    """A self-signed serving certificate for 127.0.0.1 (and ``extra_ips``) and the
    ServiceAccount signing key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    pki = workdir / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "podeip-testbed-apiserver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes"),
                    x509.DNSName("kubernetes.default.svc"),
                    x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
                    *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in extra_ips),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (pki / "apiserver.crt").write_bytes(cert.public_bytes(pem))
    (pki / "apiserver.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (workdir / "sa.key").write_bytes(
        sa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (workdir / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def write_kubeconfig(path: Path, *, server: str, ca_path: Path, token: str, user: str = "admin") -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "podeip-testbed", "cluster": {"server": server, "certificate-authority": str(ca_path)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "podeip-testbed", "context": {"cluster": "podeip-testbed", "user": user}}],
        "current-context": "podeip-testbed",
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)


@dataclass
class ControlPlane:
    """A running (or stopped) control plane: ports, paths and process IDs."""

    workdir: Path
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    admin_token: str = ""
    #: How many kwok nodes, and the range their podCIDRs are cut from (equal blocks, in order).
    #: The defaults give ``FAKE_NODES``; the benchmark asks for more and larger ones.
    nodes: int = len(FAKE_NODES)
    pod_network: str = POD_NETWORK
    #: The real node's address (tests/testbed/node.py), or empty for the kwok-only test bed. When
    #: set, the API server listens on every address of its network namespace, which must be the
    #: test's own ``netns`` (a /run/netns path), and real pods reach it as the ``kubernetes``
    #: Service through kube-proxy.
    node_ip: str = ""
    netns: str = ""

    def fake_nodes(self) -> dict[str, str]:
        """Node name → podCIDR: ``pod_network`` cut into the fewest equal blocks that fit ``nodes``."""
        network = ipaddress.ip_network(self.pod_network)
        extra_bits = max(self.nodes - 1, 0).bit_length()
        if network.prefixlen + extra_bits > 30:
            raise ValueError(f"{self.pod_network} is too small for {self.nodes} nodes")
        blocks = network.subnets(prefixlen_diff=extra_bits)
        return {f"kwok-node-{i}": str(next(blocks)) for i in range(self.nodes)}

    @property
    def server(self) -> str:
        return f"https://{LOOPBACK}:{self.ports['apiserver']}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    @property
    def ca_path(self) -> Path:
        return self.workdir / "pki" / "apiserver.crt"

    def apiserver_network(self) -> list[str]:
        """The API server's listen and admission arguments: loopback only, or for a real node
        every address of a network namespace of the test's own, the node IP as the endpoint of
        the ``kubernetes`` Service, and the ServiceAccount admission that mounts pod tokens."""
        if not self.node_ip:
            return [
                "--bind-address", LOOPBACK, "--advertise-address", LOOPBACK,
                "--endpoint-reconciler-type", "none", "--disable-admission-plugins", "ServiceAccount",
            ]  # fmt: skip
        own, wanted = os.stat("/proc/self/ns/net"), os.stat(self.netns or "/proc/self/ns/net")
        if not self.netns or (own.st_dev, own.st_ino) != (wanted.st_dev, wanted.st_ino):
            raise RuntimeError(
                "a control plane for a real node runs only inside a network namespace of its own"
            )
        return [
            "--bind-address", "0.0.0.0", "--advertise-address", self.node_ip,
            "--endpoint-reconciler-type", "lease", "--kubelet-preferred-address-types", "InternalIP",
        ]  # fmt: skip

    # ---- commands ------------------------------------------------------------------------
    def commands(self) -> dict[str, list[str]]:
        """Every process with its full command line: all addresses are 127.0.0.1."""
        w, p = self.workdir, self.ports
        kubeconfig = str(self.kubeconfig)
        return {
            "etcd": [
                str(binary("etcd")),
                "--name",
                "testbed",
                "--data-dir",
                str(w / "etcd"),
                "--unsafe-no-fsync",
                "--listen-client-urls",
                f"http://{LOOPBACK}:{p['etcd']}",
                "--advertise-client-urls",
                f"http://{LOOPBACK}:{p['etcd']}",
                "--listen-peer-urls",
                f"http://{LOOPBACK}:{p['etcd_peer']}",
                "--initial-advertise-peer-urls",
                f"http://{LOOPBACK}:{p['etcd_peer']}",
                "--initial-cluster",
                f"testbed=http://{LOOPBACK}:{p['etcd_peer']}",
                "--log-level",
                "warn",
            ],
            "kube-apiserver": [
                str(binary("kube-apiserver")),
                "--etcd-servers",
                f"http://{LOOPBACK}:{p['etcd']}",
                *self.apiserver_network(),
                "--secure-port",
                str(p["apiserver"]),
                "--tls-cert-file",
                str(w / "pki" / "apiserver.crt"),
                "--tls-private-key-file",
                str(w / "pki" / "apiserver.key"),
                "--service-account-issuer",
                f"https://{LOOPBACK}:{p['apiserver']}",
                "--service-account-key-file",
                str(w / "sa.pub"),
                "--service-account-signing-key-file",
                str(w / "sa.key"),
                "--service-cluster-ip-range",
                SERVICE_CIDR,
                "--token-auth-file",
                str(w / "tokens.csv"),
                "--authorization-mode",
                "RBAC",
                "--allow-privileged=true",
                "--profiling=false",
                "-v",
                "1",
            ],
            "kube-controller-manager": [
                str(binary("kube-controller-manager")),
                "--kubeconfig",
                kubeconfig,
                "--authentication-kubeconfig",
                kubeconfig,
                "--authorization-kubeconfig",
                kubeconfig,
                "--bind-address",
                LOOPBACK,
                "--secure-port",
                str(p["kcm"]),
                "--cert-dir",
                str(w / "kcm-certs"),
                "--leader-elect=false",
                "--service-account-private-key-file",
                str(w / "sa.key"),
                "--root-ca-file",
                str(self.ca_path),
                "--use-service-account-credentials=false",
                "--allocate-node-cidrs=false",
                "--profiling=false",
                "-v",
                "1",
            ],
            "kube-scheduler": [
                str(binary("kube-scheduler")),
                "--kubeconfig",
                kubeconfig,
                "--authentication-kubeconfig",
                kubeconfig,
                "--authorization-kubeconfig",
                kubeconfig,
                "--bind-address",
                LOOPBACK,
                "--secure-port",
                str(p["scheduler"]),
                "--cert-dir",
                str(w / "scheduler-certs"),
                "--leader-elect=false",
                "--profiling=false",
                "-v",
                "1",
            ],
            "kwok": [
                str(binary("kwok")),
                "--kubeconfig",
                kubeconfig,
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
                "--config",
                str(HERE / "kwok-stages.yaml"),
                "--node-ip",
                LOOPBACK,
                "--node-lease-duration-seconds",
                "40",
                "--cidr",
                self.pod_network,
                "--server-address",
                f"{LOOPBACK}:{p['kwok']}",
            ],
        }

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self, *, progress: bool = True) -> None:
        say = (lambda msg: print(f"[cluster] {msg}", flush=True)) if progress else (lambda msg: None)
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        names = ("etcd", "etcd_peer", "apiserver", "kcm", "scheduler", "kwok")
        self.ports = {name: free_port() for name in names}
        self.admin_token = secrets.token_hex(16)
        # A real node's pods reach the API server as the `kubernetes` Service and by the node IP.
        _write_pki(self.workdir, [KUBERNETES_SERVICE_IP, self.node_ip] if self.node_ip else [])
        (self.workdir / "tokens.csv").write_text(f'{self.admin_token},admin,admin,"system:masters"\n')
        write_kubeconfig(self.kubeconfig, server=self.server, ca_path=self.ca_path, token=self.admin_token)
        commands = self.commands()
        try:
            self._spawn("etcd", commands["etcd"])
            self._wait(lambda: self._http_ok(f"http://{LOOPBACK}:{self.ports['etcd']}/health"), "etcd", 30)
            say(f"etcd ready ({time.monotonic() - started:.1f}s)")
            self._spawn("kube-apiserver", commands["kube-apiserver"])
            self._wait(lambda: self._http_ok(f"{self.server}/readyz"), "kube-apiserver", 90)
            say(f"kube-apiserver ready at {self.server} ({time.monotonic() - started:.1f}s)")
            for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
                self._spawn(name, commands[name])
            self._create_fake_nodes()
            self._wait(self._nodes_ready, "fake nodes Ready", 60)
            say(f"{self.nodes} fake nodes Ready; control plane up in {time.monotonic() - started:.1f}s")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for name in reversed(list(self.pids)):
            _terminate(self.pids[name])
        self.pids.clear()

    def alive(self) -> dict[str, bool]:
        return {name: _pid_alive(pid) for name, pid in self.pids.items()}

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of each process, from /proc."""
        sizes: dict[str, float] = {}
        for name, pid in self.pids.items():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes[name] = int(line.split()[1]) / 1024
            except OSError:
                continue
        return sizes

    # ---- helpers -------------------------------------------------------------------------
    def _spawn(self, name: str, command: Sequence[str]) -> None:
        log = (self.workdir / "logs" / f"{name}.log").open("ab")
        env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
        process = subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=env,
            start_new_session=True,
        )
        self.pids[name] = process.pid

    def _wait(self, check: object, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, pid in self.pids.items():
                if not _pid_alive(pid):
                    raise RuntimeError(f"{name} exited while waiting for {what}:\n{self.log_tail(name)}")
            if check():  # type: ignore[operator]
                return
            time.sleep(0.2)
        raise TimeoutError(f"{what} not ready after {timeout:.0f}s; logs in {self.workdir / 'logs'}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / "logs" / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))

    def _http_ok(self, url: str) -> bool:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.admin_token}"})
        try:
            with urllib.request.urlopen(
                request, timeout=2, context=self._ssl() if url.startswith("https") else None
            ):
                return True
        except OSError:
            return False

    def api(
        self, method: str, path: str, body: object = None, content_type: str = "application/json"
    ) -> object:
        """A tiny admin client for setup work (nodes), independent of the code under test."""
        request = urllib.request.Request(
            self.server + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.admin_token}", "Content-Type": content_type},
        )
        with urllib.request.urlopen(request, timeout=10, context=self._ssl()) as response:
            return json.loads(response.read() or b"null")

    def _create_fake_nodes(self) -> None:
        for name, cidr in self.fake_nodes().items():
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
                },
                "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            }
            self.api("POST", "/api/v1/nodes", node)

    def _nodes_ready(self) -> bool:
        nodes = self.api("GET", "/api/v1/nodes")
        ready = 0
        for node in nodes.get("items", []):  # type: ignore[union-attr]
            for condition in node.get("status", {}).get("conditions", []):
                if condition["type"] == "Ready" and condition["status"] == "True":
                    ready += 1
        return ready >= self.nodes

    # ---- persistence for `make cluster-up` -------------------------------------------------
    def save(self, path: Path = STATE_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = asdict(self)
        state["workdir"] = str(self.workdir)
        path.write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, path: Path = STATE_FILE) -> ControlPlane:
        state = json.loads(path.read_text())
        state["workdir"] = Path(state["workdir"])
        return cls(**state)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # a zombie counts as dead
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _terminate(pid: int, grace: float = 10.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)
    if _pid_alive(pid):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--workdir", type=Path, default=LOCAL / "testbed" / "cluster")
    args = parser.parse_args(argv)
    if args.action == "up":
        if STATE_FILE.exists() and all(ControlPlane.load().alive().values()):
            plane = ControlPlane.load()
            print(f"[cluster] already running at {plane.server}")
        else:
            if args.workdir.exists():
                shutil.rmtree(args.workdir)
            plane = ControlPlane(workdir=args.workdir)
            plane.start()
            plane.save()
        kubeconfig = LOCAL / "kubeconfig"
        kubeconfig.parent.mkdir(exist_ok=True)
        shutil.copy(plane.kubeconfig, kubeconfig)
        kubectl = binary("kubectl")
        print(f"[cluster] kubeconfig: {kubeconfig}")
        print(f"[cluster] try:  export KUBECONFIG={kubeconfig}; {kubectl} get nodes -o wide")
        print("[cluster] stop: make cluster-down")
        return 0
    if not STATE_FILE.exists():
        print("[cluster] not running")
        return 0 if args.action == "down" else 1
    plane = ControlPlane.load()
    if args.action == "down":
        plane.stop()
        STATE_FILE.unlink()
        (LOCAL / "kubeconfig").unlink(missing_ok=True)
        print("[cluster] stopped")
        return 0
    alive = plane.alive()
    for name, ok in alive.items():
        rss = plane.rss_mib().get(name)
        print(f"{name:26} {'running' if ok else 'DEAD':8} {f'{rss:.0f} MiB' if rss else ''}")
    print(f"total RSS: {sum(plane.rss_mib().values()):.0f} MiB; server {plane.server}")
    return 0 if all(alive.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
