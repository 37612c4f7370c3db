"""A real node beside the kwok nodes: containerd, kubelet and kube-proxy in a network namespace
of their own, and the product image built offline for it (../shared/reference/real-node.md).

Layout. ``ip netns add podeip-node`` with a veth pair whose both ends stay inside it (the node
IP 198.18.0.2, RFC 2544 benchmarking space, is on one end); no default route, no uplink, so
nothing can leave it. Inside run the control plane (``ControlPlane(node_ip=...)``: the API
server listens on the namespace's addresses only), containerd (CRI; pods on the CNI bridge
``cni0``, 198.18.1.0/24, routes only to the Service range), the kubelet and kube-proxy. Every
client (kubectl, helm) runs inside it through ``nsenter --net=`` (``ip netns exec`` would
remount /sys and hide the cgroup mounts). All state is in ``.local/node``; the build outputs are
cached under ``~/.cache/podeip-testbed``.

Build phase (only what is missing): Debian packages (apt, non-interactive), kubelet, kube-proxy
and the pause image (``hack/testbed-build.sh``), a base image made by debootstrap, a wheelhouse
resolved on the host by pip, and the product image from the unchanged Dockerfile with no
index and no network (a Docker daemon with no bridge and no iptables, stopped right after).

    python tests/testbed/node.py deps      # the Debian packages the node and the builds need (root)
    python tests/testbed/node.py image     # build the image if its inputs changed; load it if up
    python tests/testbed/node.py up        # everything above, then start the node
    python tests/testbed/node.py down      # stop what `up` started, by PID; remove its traces
    python tests/testbed/node.py status
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testbed.cluster import (
    REPO,
    SERVICE_CIDR,
    ControlPlane,
    _pid_alive,
    _terminate,
    binary,
    cache_dir,
    versions,
)

NAME = "podeip-node"  # the network namespace and the node
NODE_IP = "198.18.0.2"
POD_CIDR = "198.18.1.0/24"
STATE = REPO / ".local" / "node"
STATE_FILE = STATE / "state.json"
NETNS = Path("/run/netns") / NAME
IN_NETNS = ["nsenter", f"--net={NETNS}"]
IMAGE = "local/podeip-operator:dev"
#: What the images are called inside containerd (docker.io/ is implied by the short names).
IMAGE_REF = "docker.io/" + IMAGE
BASE_IMAGE = "local/python:3.11-slim-bookworm"
BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
#: Debian packages → a file each one installs (docker.io: dockerd and its client for builds).
PACKAGES = {
    "docker.io": "/usr/sbin/dockerd",
    "containerd": "/usr/bin/containerd",
    "runc": "/usr/sbin/runc",
    "debootstrap": "/usr/sbin/debootstrap",
    "containernetworking-plugins": "/usr/lib/cni/bridge",
    "iptables": "/usr/sbin/iptables",
    "gcc": "/usr/bin/gcc",
    "libc6-dev": "/usr/lib/x86_64-linux-gnu/libc.a",
}
DOCKER = "/usr/bin/docker"  # docker.io's client, the daemon's own version
#: Host paths the kubelet, CNI, containerd and dockerd create outside our state directories;
#: ``down`` removes those of them that did not exist before ``up``.
SYSTEM_PATHS = (
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/var/lib/cni",
    "/run/containerd",
    "/run/docker",
    "/etc/cni",
)
CGROUP_NAMES = ("kubepods", "k8s.io", "docker")
#: Machine-wide sysctls the kubelet sets at start (protectKernelDefaults: false; true would make
#: it refuse to start here): restored by ``down`` to what they were before ``up``.
KERNEL_TUNABLES = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)


def say(message: str) -> None:
    print(f"[node] {message}", flush=True)


def run(*command: str | Path, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    if "input" not in kwargs:
        kwargs["stdin"] = subprocess.DEVNULL
    result = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, command))} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result  # type: ignore[no-any-return]


def node_binary(name: str) -> Path:
    path = cache_dir() / f"node-v{versions()['KUBERNETES_VERSION']}" / "bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `hack/testbed-build.sh node`")
    return path


def pause_dir() -> Path:
    return cache_dir() / f"pause-v{versions()['KUBERNETES_VERSION']}"


# ---- build phase ---------------------------------------------------------------------------
def ensure_packages() -> None:
    """Install the missing Debian packages, non-interactively, without starting any service."""
    missing = [package for package, path in PACKAGES.items() if not Path(path).exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"the real node needs root to install {' '.join(missing)}")
    say(f"installing Debian packages: {' '.join(missing)}")
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # No service may start on the host (a system dockerd would add docker0 and iptables rules
    # to the host's network): a policy-rc.d that denies every start, if there is none yet.
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\n# podeip-operator tests/testbed/node.py: no service starts\nexit 101\n")
        policy.chmod(0o755)
    try:
        run("apt-get", "update", "-q", env=env)
        run(
            "apt-get", "install", "-y", "-q", "--no-install-recommends",
            "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
            *missing, env=env,
        )  # fmt: skip
    finally:
        if ours:
            policy.unlink()
    say(f"Debian packages installed in {time.monotonic() - started:.0f}s")


def ensure_node_binaries() -> None:
    """kubelet, kube-proxy and the pause image, built by hack/testbed-build.sh when missing."""
    for component, wanted in (("node", ("kubelet", "kube-proxy")), ("pause", ("pause",))):
        directory = cache_dir() / f"{component}-v{versions()['KUBERNETES_VERSION']}"
        if all((directory / "bin" / name).exists() for name in wanted) and (directory / "stamp").exists():
            continue
        subprocess.run(
            [str(REPO / "hack" / "testbed-build.sh"), component], check=True, stdin=subprocess.DEVNULL
        )


def base_image_tar() -> Path:
    """A root filesystem of Debian bookworm's python3 (3.11, the slim image's ABI), by
    debootstrap, as a tarball for ``docker import``; cached."""
    directory = cache_dir() / "node-base-bookworm"
    tarball = directory / "rootfs.tar"
    stamp = directory / "stamp"
    want = f"bookworm minbase {BASE_PACKAGES}"
    if tarball.exists() and stamp.exists() and stamp.read_text() == want:
        return tarball
    ensure_packages()
    say("building the base image's root filesystem (debootstrap, about a minute)")
    started = time.monotonic()
    rootfs = directory / "rootfs"
    if rootfs.exists():
        shutil.rmtree(rootfs)
    directory.mkdir(parents=True, exist_ok=True)
    run(
        "debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", rootfs, DEBIAN_MIRROR,
    )  # fmt: skip
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (rootfs / leftover).glob("*"):
            if path.is_file():
                path.unlink()
    run("tar", "-C", rootfs, "--numeric-owner", "-cf", tarball, ".")
    shutil.rmtree(rootfs)
    stamp.write_text(want)
    say(f"base root filesystem in {time.monotonic() - started:.0f}s: {tarball}")
    return tarball


def python() -> Path:
    """The virtualenv's CPython 3.11: the wheels it resolves must fit the base image's ABI."""
    path = REPO / ".venv" / "bin" / "python"
    version = run(path, "-c", "import sys, platform; print(sys.version_info[:2], platform.machine())").stdout
    if version.strip() != "(3, 11) x86_64":
        raise RuntimeError(f"{path} is {version.strip()}; the image's wheels need CPython 3.11 on x86_64")
    return path


def wheelhouse() -> Path:
    """Wheels of every runtime dependency, resolved on the host (where PyPI is reachable), for
    an offline ``pip install`` in the image; rebuilt when pyproject.toml changes."""
    directory = REPO / ".local" / "wheelhouse"
    stamp = REPO / ".local" / "wheelhouse.stamp"
    want = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and any(directory.glob("*.whl")):
        return directory
    say("resolving the wheelhouse with pip (host)")
    started = time.monotonic()
    if directory.exists():
        shutil.rmtree(directory)
    run(python(), "-m", "pip", "wheel", "--quiet", "--wheel-dir", directory, REPO, "setuptools>=77")
    for own in directory.glob("podeip_operator-*.whl"):
        own.unlink()  # the image builds the copied source
    stamp.write_text(want)
    say(f"wheelhouse: {len(list(directory.glob('*.whl')))} wheels in {time.monotonic() - started:.0f}s")
    return directory


def image_inputs() -> str:
    """A digest of the build context the .dockerignore lets in, plus the base image."""
    digest = hashlib.sha256()
    paths = [REPO / "Dockerfile", REPO / ".dockerignore", REPO / "pyproject.toml", REPO / "README.md"]
    for root in (REPO / "src", REPO / ".local" / "wheelhouse"):
        paths += sorted(
            p
            for p in root.rglob("*")
            if p.is_file()
            and "__pycache__" not in p.parts
            and ".egg-info" not in str(p)
            and p.suffix != ".pyc"
        )
    for path in paths:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update((cache_dir() / "node-base-bookworm" / "stamp").read_bytes())
    return digest.hexdigest()


def image_tar() -> Path:
    return REPO / ".local" / "node-images" / "podeip-operator-dev.tar"


@contextlib.contextmanager
def dockerd() -> Iterator[dict[str, str]]:
    """A Docker daemon for image builds only: host network namespace, no bridge, no iptables, no
    masquerading; its layer cache under ~/.cache, its sockets and state in .local; stopped (by
    PID) and its mounts removed afterwards."""
    run_dir = REPO / ".local" / "node-build"
    if run_dir.exists():
        _unmount_under(run_dir)
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    data_root = cache_dir() / "node-docker"
    before, cgroups_before = _existing(SYSTEM_PATHS), _cgroup_dirs()
    sock = run_dir / "docker.sock"
    log = (run_dir / "dockerd.log").open("ab")
    daemon = subprocess.Popen(
        [
            "dockerd", "-H", f"unix://{sock}", "--data-root", str(data_root),
            "--exec-root", str(run_dir / "exec"), "--pidfile", str(run_dir / "dockerd.pid"),
            "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
            "--storage-driver=overlay2", "--containerd-namespace", "podeip-build",
        ],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        env={key: value for key, value in os.environ.items() if "proxy" not in key.lower()},
    )  # fmt: skip
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_BUILDKIT": "0"}
    try:
        deadline = time.monotonic() + 60
        while run(DOCKER, "version", check=False, env=env).returncode != 0:
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start; log in {run_dir / 'dockerd.log'}")
            time.sleep(0.3)
        yield env
    finally:
        _terminate(daemon.pid, grace=20)
        _unmount_under(run_dir)
        _unmount_under(data_root)
        for path in set(_existing(SYSTEM_PATHS)) - set(before):
            shutil.rmtree(path, ignore_errors=True)
        _remove_cgroups(cgroups_before, names=("docker",))


def build_image() -> Path:
    """The product image from the unchanged Dockerfile: base ``local/python:3.11-slim-bookworm``
    (debootstrap), dependencies from the wheelhouse with no index, built with no network;
    saved as a `docker save` archive; cached by the digest of its inputs."""
    ensure_packages()
    base = base_image_tar()
    wheelhouse()
    tarball = image_tar()
    key = tarball.with_suffix(".inputs")
    want = image_inputs()
    if tarball.exists() and key.exists() and key.read_text() == want:
        say(f"image {IMAGE}: cached ({tarball})")
        return tarball
    started = time.monotonic()
    with dockerd() as env:
        if run(DOCKER, "image", "inspect", BASE_IMAGE, check=False, env=env).returncode != 0:
            run(
                DOCKER, "import",
                "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change", 'CMD ["python3"]', base, BASE_IMAGE, env=env,
            )  # fmt: skip
        say(f"building {IMAGE} (docker build --network none, offline from the wheelhouse)")
        run(
            DOCKER, "build", "--network", "none", "-t", IMAGE,
            "--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}", "--build-arg", "PIP_NO_INDEX=1",
            "--build-arg", "PIP_FIND_LINKS=/src", str(REPO), env=env,
        )  # fmt: skip
        tarball.parent.mkdir(parents=True, exist_ok=True)
        run(DOCKER, "save", "-o", tarball, IMAGE, env=env)
        # Old layers would pile up in the cache: keep the base and this build only.
        run(DOCKER, "image", "prune", "--force", env=env, check=False)
    key.write_text(want)
    size = tarball.stat().st_size >> 20
    say(f"image {IMAGE} built in {time.monotonic() - started:.0f}s ({size} MiB archive)")
    return tarball


# ---- the node ------------------------------------------------------------------------------
@dataclass
class Node:
    """A running (or stopped) real node: its PIDs, its control plane, what existed before it."""

    pids: dict[str, int] = field(default_factory=dict)
    plane: dict[str, object] = field(default_factory=dict)
    existed: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    host_links: list[str] = field(default_factory=list)
    host_rules: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    #: Whether /run/netns existed before (`ip netns add` makes it a shared bind mount of itself),
    #: and its entries then (containerd adds one `cni-…` per pod).
    netns_dir: bool = True
    netns_before: list[str] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return STATE / "cluster" / "admin.kubeconfig"

    def control_plane(self) -> ControlPlane:
        state = dict(self.plane)
        state["workdir"] = Path(str(state["workdir"]))
        return ControlPlane(**state)  # type: ignore[arg-type]

    def save(self) -> None:
        STATE_FILE.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls) -> Node | None:
        if not STATE_FILE.exists():
            return None
        return cls(**json.loads(STATE_FILE.read_text()))

    def alive(self) -> dict[str, bool]:
        return {
            **{name: _pid_alive(pid) for name, pid in self.pids.items()},
            **self.control_plane().alive(),
        }


def client(name: str) -> list[str]:
    """The command line of ``kubectl`` or ``helm`` as the admin, inside the node's network
    namespace (the only place the API server can be reached)."""
    return [*IN_NETNS, str(binary(name)), "--kubeconfig", str(STATE / "cluster" / "admin.kubeconfig")]


def kubectl(*args: str, input: str | None = None, check: bool = True, timeout: float = 120) -> str:
    """kubectl as the admin, inside the node's network namespace; returns stdout."""
    extra: dict[str, object] = {} if input is None else {"input": input}
    return run(*client("kubectl"), *args, check=check, timeout=timeout, **extra).stdout


def ctr(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(
        "ctr",
        "--address",
        STATE / "containerd" / "containerd.sock",
        "--namespace",
        "k8s.io",
        *args,
        check=check,
    )


def load_image(tarball: Path) -> None:
    started = time.monotonic()
    ctr("images", "import", tarball)
    say(f"loaded {tarball.name} into containerd in {time.monotonic() - started:.1f}s")


def _existing(paths: Sequence[str]) -> list[str]:
    return [p for p in paths if os.path.lexists(p)]


def _cgroup_dirs() -> set[str]:
    found: set[str] = set()
    for name in CGROUP_NAMES:
        for path in Path("/sys/fs/cgroup").glob(f"*/{name}"):
            found.add(str(path))
        if Path("/sys/fs/cgroup", name).is_dir():
            found.add(f"/sys/fs/cgroup/{name}")
    return found


def _remove_cgroups(before_cgroups: set[str], names: Sequence[str] = CGROUP_NAMES) -> None:
    """rmdir, deepest first, the cgroups named ``names`` that did not exist before (a cgroup
    with processes in it is never removed: rmdir refuses)."""
    for top in sorted(_cgroup_dirs() - before_cgroups):
        if Path(top).name not in names:
            continue
        for directory in sorted((p for p in Path(top).rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            Path(top).rmdir()


def _mounts_under(prefix: Path) -> list[str]:
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == str(prefix) or point.startswith(f"{prefix}/"):
            found.append(point)
    return found


def _unmount_under(prefix: Path) -> None:
    for point in sorted(set(_mounts_under(prefix)), key=len, reverse=True):
        run("umount", point, check=False)
    for point in sorted(set(_mounts_under(prefix)), key=len, reverse=True):
        run("umount", "--lazy", point, check=False)


def _host_rules() -> list[str]:
    """The host network namespace's iptables and ip6tables rules, without counters."""
    rules = []
    for tool in ("iptables-save", "ip6tables-save"):
        for line in run(tool, check=False).stdout.splitlines():
            if line and not line.startswith("#"):
                rules.append(f"{tool}: {line.split(' [')[0] if line.startswith(':') else line}")
    return rules


def _host_links() -> list[str]:
    return sorted(
        line.split(":")[1].strip().split("@")[0] for line in run("ip", "-o", "link").stdout.splitlines()
    )


def write_configs() -> None:
    """containerd, CNI, kubelet and kube-proxy configuration, all in STATE."""
    n = STATE
    for sub in ("cni/net.d", "cni/ipam", "kubelet", "kube-proxy", "containerd", "logs"):
        (n / sub).mkdir(parents=True, exist_ok=True)
    pause = (pause_dir() / "image-name").read_text().strip()
    (n / "cni/net.d/10-podeip-node.conflist").write_text(
        json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": NAME,
                "plugins": [
                    {
                        "type": "bridge", "bridge": "cni0", "isGateway": True, "isDefaultGateway": False,
                        "ipMasq": False, "hairpinMode": False,
                        "ipam": {
                            "type": "host-local", "ranges": [[{"subnet": POD_CIDR}]],
                            "dataDir": str(n / "cni/ipam"),
                            # only the Service range, via kube-proxy: no default route in a pod
                            "routes": [{"dst": SERVICE_CIDR}],
                        },
                    }
                ],
            },
            indent=2,
        )
    )  # fmt: skip
    # restrict_oom_score_adj: this machine kind has no CAP_SYS_RESOURCE (real-node.md pitfall 1).
    (n / "containerd/config.toml").write_text(f"""version = 2
root = "{n}/containerd/root"
state = "{n}/containerd/state"
[grpc]
  address = "{n}/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{n}/cni/net.d"
""")
    (n / "kubelet/resolv.conf").write_text("nameserver 127.0.0.1\n")
    (n / "kubelet/config.yaml").write_text(f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: {NODE_IP}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://{n}/containerd/containerd.sock
authentication: {{anonymous: {{enabled: true}}, webhook: {{enabled: false}}}}
authorization: {{mode: AlwaysAllow}}
failSwapOn: false
resolvConf: {n}/kubelet/resolv.conf
podLogsDir: {n}/kubelet/pod-logs
maxPods: 16
evictionHard: {{memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
""")
    (n / "kube-proxy/config.yaml").write_text(f"""apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {{kubeconfig: {n}/cluster/admin.kubeconfig}}
mode: iptables
hostnameOverride: {NAME}
bindAddress: {NODE_IP}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: {POD_CIDR}
conntrack: {{maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}}
iptables: {{localhostNodePorts: false}}
nodePortAddresses: ["{NODE_IP}/32"]
""")


def _spawn(name: str, command: Sequence[str | Path]) -> int:
    log = (STATE / "logs" / f"{name}.log").open("ab")
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    process = subprocess.Popen(
        [str(c) for c in command],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    return process.pid


def _wait(check: object, what: str, timeout: float, node: Node) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, pid in node.pids.items():
            if not _pid_alive(pid):
                log = STATE / "logs" / f"{name}.log"
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""
                raise RuntimeError(f"{name} exited while waiting for {what}:\n{tail}")
        if check():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s; logs in {STATE / 'logs'}")


def inside_up() -> int:
    """Runs inside the network namespace: containerd, the control plane, kubelet, kube-proxy."""
    node = Node.load()
    assert node is not None
    started = time.monotonic()
    sock = STATE / "containerd" / "containerd.sock"
    node.pids["containerd"] = _spawn(
        "containerd", ["containerd", "--config", STATE / "containerd/config.toml"]
    )
    node.save()
    _wait(lambda: sock.exists() and ctr("version", check=False).returncode == 0, "containerd", 30, node)
    say(f"containerd ready ({time.monotonic() - started:.1f}s)")
    load_image(pause_dir() / "pause.tar")
    # The product image (if built) is imported while the control plane starts.
    importing = None
    if image_tar().exists():
        importing = subprocess.Popen(
            ["ctr", "--address", str(sock), "--namespace", "k8s.io", "images", "import", str(image_tar())],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
    plane = ControlPlane(workdir=STATE / "cluster", node_ip=NODE_IP, netns=str(NETNS))
    plane.start(progress=True)
    node.plane = {**asdict(plane), "workdir": str(plane.workdir)}
    node.save()
    node.pids["kubelet"] = _spawn(
        "kubelet",
        [
            node_binary("kubelet"), f"--config={STATE}/kubelet/config.yaml",
            f"--kubeconfig={plane.kubeconfig}", f"--root-dir={STATE}/kubelet/root",
            f"--cert-dir={STATE}/kubelet/pki", f"--node-ip={NODE_IP}",
            f"--hostname-override={NAME}", "--v=1",
        ],
    )  # fmt: skip
    node.pids["kube-proxy"] = _spawn(
        "kube-proxy", [node_binary("kube-proxy"), f"--config={STATE}/kube-proxy/config.yaml"]
    )
    node.save()

    def ready() -> bool:
        out = kubectl("get", "node", NAME, "-o", "json", check=False)
        if not out:
            return False
        conditions = json.loads(out)["status"].get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    _wait(ready, f"node {NAME} Ready", 90, node)
    if importing is not None:
        _, errors = importing.communicate(timeout=300)
        if importing.returncode != 0:
            raise RuntimeError(f"ctr images import {image_tar()} failed: {errors}")
        say(f"{IMAGE} imported into containerd ({time.monotonic() - started:.1f}s)")
    say(f"node {NAME} Ready beside {plane.nodes} kwok nodes; up in {time.monotonic() - started:.1f}s")
    return 0


def up(*, with_image: bool = True) -> Node:
    """Build what is missing, then start the node (or return the running one)."""
    node = Node.load()
    if node is not None and all(node.alive().values()):
        say("already running")
        return node
    if node is not None:
        down()
    if os.geteuid() != 0:
        raise RuntimeError("the real node needs root (network namespace, mounts, cgroups)")
    ensure_packages()
    ensure_node_binaries()
    if with_image:
        build_image()
    if STATE.exists():
        _unmount_under(STATE)
        shutil.rmtree(STATE)
    STATE.mkdir(parents=True)
    if NETNS.exists():
        # The kubelet's device-plugin socket and cgroup names are machine-wide: one node only.
        raise RuntimeError(
            f"{NETNS} exists but this checkout recorded no node: a real node of another checkout "
            "runs on this machine (one per machine); stop it there with `make node-down`"
        )
    node = Node(
        existed=_existing(SYSTEM_PATHS),
        cgroups=sorted(_cgroup_dirs()),
        host_links=_host_links(),
        host_rules=_host_rules(),
        sysctls={key: Path("/proc/sys", key).read_text().strip() for key in KERNEL_TUNABLES},
        netns_dir=NETNS.parent.exists(),
        netns_before=sorted(p.name for p in NETNS.parent.glob("*")),
    )
    node.save()
    started = time.monotonic()
    try:
        run("ip", "netns", "add", NAME)
        ip = ("ip", "-n", NAME)
        run(*ip, "link", "set", "lo", "up")
        run(*ip, "link", "add", "node0", "type", "veth", "peer", "name", "node0p")
        run(*ip, "addr", "add", f"{NODE_IP}/32", "dev", "node0")
        run(*ip, "link", "set", "node0p", "up")
        run(*ip, "link", "set", "node0", "up")
        if run(*ip, "route", "show", "default").stdout.strip():
            raise RuntimeError(f"the network namespace {NAME} has a default route")
        write_configs()
        subprocess.run(
            [*IN_NETNS, sys.executable, __file__, "_inside-up"],
            check=True,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
        )
    except BaseException:
        down()
        raise
    node = Node.load()
    assert node is not None
    say(f"kubeconfig {node.kubeconfig} (inside the namespace only); total {time.monotonic() - started:.1f}s")
    say(f"try: {' '.join(IN_NETNS)} {binary('kubectl')} --kubeconfig {node.kubeconfig} get nodes -o wide")
    return node


def _sandbox_netns_paths() -> list[str]:
    """The network namespaces containerd made for pods (bind mounts under /run/netns)."""
    paths = []
    for container in ctr("containers", "list", "--quiet", check=False).stdout.split():
        info = ctr("containers", "info", container, check=False).stdout
        with contextlib.suppress(ValueError, KeyError, TypeError):
            for namespace in json.loads(info)["Spec"]["linux"]["namespaces"]:
                if namespace["type"] == "network" and namespace.get("path"):
                    paths.append(namespace["path"])
    return sorted(set(paths))


def down() -> int:
    """Stop what ``up`` started, by PID, in an order that leaves no shim behind; then remove the
    mounts, cgroups, network namespaces and directories it created (and only those)."""
    node = Node.load()
    if node is None:
        say("not running")
        return 0
    sock = STATE / "containerd" / "containerd.sock"
    problems: list[str] = []
    # Pods first, while the kubelet runs, so that the CRI tears their networks down.
    if node.pids.get("kubelet") and _pid_alive(node.pids["kubelet"]):
        kubectl(
            "delete", "pods", "--all-namespaces", f"--field-selector=spec.nodeName={NAME}",
            "--grace-period=5", "--wait=true", "--timeout=60s", check=False, timeout=90,
        )  # fmt: skip
    for name in ("kube-proxy", "kubelet"):
        if name in node.pids:
            _terminate(node.pids[name])
    netns_paths: list[str] = []
    if "containerd" in node.pids and _pid_alive(node.pids["containerd"]):
        netns_paths = _sandbox_netns_paths()
        for container in ctr("containers", "list", "--quiet", check=False).stdout.split():
            ctr("tasks", "kill", "--signal", "SIGKILL", container, check=False)
            for _ in range(50):
                if ctr("tasks", "delete", container, check=False).returncode == 0:
                    break
                if "not found" in ctr("tasks", "ps", container, check=False).stderr:
                    break
                time.sleep(0.1)
            ctr("containers", "delete", container, check=False)
        _terminate(node.pids["containerd"])
    # A shim that outlived containerd: found by our socket in its command line, killed by PID.
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if (
                str(sock).encode() in (proc / "cmdline").read_bytes()
                and "containerd-shim" in (proc / "comm").read_text()
            ):
                os.kill(int(proc.name), signal.SIGKILL)
                problems.append(f"killed a leftover shim, PID {proc.name}")
    # Processes left in the cgroups this node created (a shim killed above leaves its
    # container's processes behind), by PID.
    left: set[int] = set()
    for top in _cgroup_dirs() - set(node.cgroups):
        for procs in Path(top).rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                left.update(int(pid) for pid in procs.read_text().split())
    for pid in sorted(left):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if left:
        problems.append(f"killed PIDs {sorted(left)}, left in the node's cgroups")
    if node.plane:
        node.control_plane().stop()
    _unmount_under(STATE)
    # Pod namespaces: those containerd reported, and any new `cni-…` (containerd may be dead).
    netns_paths += [
        str(p)
        for p in NETNS.parent.glob("cni-*")
        if p.name not in node.netns_before and str(p) not in netns_paths
    ]
    for path in netns_paths:
        if os.path.exists(path):
            run("umount", path, check=False)
            with contextlib.suppress(OSError):
                os.unlink(path)
    if NETNS.exists():
        run("ip", "netns", "delete", NAME, check=False)
    if not node.netns_dir and NETNS.parent.exists() and not any(NETNS.parent.iterdir()):
        run("umount", NETNS.parent, check=False)
        with contextlib.suppress(OSError):
            NETNS.parent.rmdir()
    _remove_cgroups(set(node.cgroups))
    for key, value in node.sysctls.items():
        sysctl = Path("/proc/sys", key)
        if sysctl.read_text().strip() != value:
            sysctl.write_text(value)
    for path in set(_existing(SYSTEM_PATHS)) - set(node.existed):
        shutil.rmtree(path, ignore_errors=True)
    added = sorted(set(_host_links()) - set(node.host_links))
    if added:
        problems.append(f"network links added to the host namespace: {added}")
    rules = sorted(set(_host_rules()) ^ set(node.host_rules))
    if rules:
        problems.append(f"iptables rules of the host namespace changed: {rules}")
    shutil.rmtree(STATE, ignore_errors=True)
    for problem in problems:
        say(f"WARNING: {problem}")
    say("stopped and cleaned")
    return 1 if added or rules else 0


def status() -> int:
    node = Node.load()
    if node is None:
        say("not running")
        return 1
    alive = node.alive()
    for name, ok in alive.items():
        rss = _rss_mib(node.pids.get(name) or node.control_plane().pids.get(name, 0))
        print(f"{name:26} {'running' if ok else 'DEAD':8} {f'{rss:.0f} MiB' if rss else ''}")
    return 0 if all(alive.values()) else 1


def _rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=["deps", "image", "up", "down", "status", "_inside-up"])
    args = parser.parse_args(argv)
    if args.action == "deps":
        ensure_packages()
        return 0
    if args.action == "image":
        tarball = build_image()
        node = Node.load()
        if node is not None and all(node.alive().values()):
            load_image(tarball)
        return 0
    if args.action == "up":
        up()
        return 0
    if args.action == "down":
        return down()
    if args.action == "_inside-up":
        return inside_up()
    return status()


if __name__ == "__main__":
    sys.exit(main())
