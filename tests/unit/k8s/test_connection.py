"""We test these aspects of loading the connection through the ``kubernetes`` library: a
kubeconfig's current context (or a named one) selects server, token, CA data, client
certificate and key, and the default namespace; relative file references resolve against the
kubeconfig's directory; a ``tokenFile`` is read again once a minute has passed, never before;
an exec credential plugin (a real script printing an ``ExecCredential``) is run once, again
shortly before its expiry, and again after a 401, but not for a 401 of an identity already
replaced; a failing plugin, a missing file or an unknown context fail with a clear
KubeConfigError; the in-cluster loader reads the ServiceAccount volume, brackets IPv6 and
re-reads the token each minute; the source is chosen in kubectl's order; the login fields build a
kopf ConnectionInfo whose headers and TLS context match; every kopf login loads afresh and
carries only a real credential expiry."""

from __future__ import annotations

import base64
import datetime
import os
import sys
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from podeip.k8s.connection import (
    EXPIRY_MARGIN,
    TOKEN_FILE_PERIOD,
    Identity,
    KubeConfigError,
    KubeConnection,
    load_connection,
    load_in_cluster,
    load_kubeconfig,
)

START = datetime.datetime(2026, 12, 1, 10, 0, tzinfo=datetime.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, delta: datetime.timedelta) -> None:
        self.now += delta


def self_signed() -> tuple[bytes, bytes]:
    """A PEM certificate and its PEM key (usable as both a CA and a client pair)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "podeip-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_kubeconfig(path: Path, *, cluster: dict[str, Any], user: dict[str, Any], **context: Any) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "main",
        "clusters": [
            {"name": "decoy", "cluster": {"server": "https://127.0.0.9:1"}},
            {"name": "c1", "cluster": cluster},
        ],
        "users": [{"name": "decoy", "user": {"token": "wrong"}}, {"name": "u1", "user": user}],
        "contexts": [
            {"name": "other", "context": {"cluster": "decoy", "user": "decoy"}},
            {"name": "main", "context": {"cluster": "c1", "user": "u1", **context}},
        ],
    }
    path.write_text(yaml.safe_dump(config))
    return path


PLUGIN = """\
import json, sys
from pathlib import Path
counter = Path(sys.argv[1])
runs = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(runs))
status = {"token": f"exec-token-{runs}"}
if sys.argv[2] != "-":
    status["expirationTimestamp"] = sys.argv[2]
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": status}))
"""


def exec_user(tmp_path: Path, *, expiry: str = "-", fail: bool = False) -> dict[str, Any]:
    """A kubeconfig user whose credential comes from a plugin script that counts its runs."""
    script = tmp_path / "plugin.py"
    script.write_text("import sys; sys.exit('no credential for you')" if fail else PLUGIN)
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script), str(tmp_path / "runs"), expiry],
            "interactiveMode": "Never",
        }
    }


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


def test_token_ca_and_namespace_come_from_the_current_context(tmp_path: Path) -> None:
    ca, _ = self_signed()
    path = write_kubeconfig(
        tmp_path / "config",
        cluster={"server": "https://127.0.0.1:6443/", "certificate-authority-data": b64(ca)},
        user={"token": "s3cr3t"},
        namespace="apps",
    )
    identity = load_kubeconfig(path)
    assert identity.server == "https://127.0.0.1:6443"
    assert identity.authorization() == "Bearer s3cr3t"
    assert identity.default_namespace == "apps"
    assert identity.expires is None  # a static token: loaded again only after a 401
    assert identity.ca_path is not None and Path(identity.ca_path).read_bytes() == ca


def test_a_named_context_wins_over_the_current_one(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", cluster={"server": "https://127.0.0.1:1"}, user={})
    identity = load_kubeconfig(path, context="other")
    assert identity.server == "https://127.0.0.9:1"
    assert identity.authorization() == "Bearer wrong"


def test_relative_files_resolve_against_the_kubeconfig_directory(tmp_path: Path) -> None:
    ca, _ = self_signed()
    cert, key = self_signed()
    (tmp_path / "pki").mkdir()
    for name, data in {"ca.crt": ca, "client.crt": cert, "client.key": key}.items():
        (tmp_path / "pki" / name).write_bytes(data)
    (tmp_path / "token").write_text("from-file\n")
    path = write_kubeconfig(
        tmp_path / "config",
        cluster={"server": "https://127.0.0.1:6443", "certificate-authority": "pki/ca.crt"},
        user={"tokenFile": "token", "client-certificate": "pki/client.crt", "client-key": "pki/client.key"},
    )
    cwd = Path.cwd()
    os.chdir("/")  # relative to the file, not to the working directory
    try:
        identity = load_kubeconfig(path, now=START)
    finally:
        os.chdir(cwd)
    assert identity.authorization() == "Bearer from-file"
    assert identity.ca_path == str(tmp_path / "pki" / "ca.crt")
    assert identity.certificate_path == str(tmp_path / "pki" / "client.crt")
    context = identity.ssl_context()
    assert context is not None and len(context.get_ca_certs()) == 1


def test_a_token_file_is_read_again_once_a_minute(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first")
    path = write_kubeconfig(
        tmp_path / "config", cluster={"server": "http://127.0.0.1:1"}, user={"tokenFile": str(token)}
    )
    clock = Clock()
    connection = load_connection(path, env={}, clock=clock)
    assert connection.identity.expires == START + TOKEN_FILE_PERIOD
    token.write_text("second")
    clock.advance(TOKEN_FILE_PERIOD - datetime.timedelta(seconds=1))
    assert connection.current().authorization() == "Bearer first"
    clock.advance(datetime.timedelta(seconds=1))
    assert connection.current().authorization() == "Bearer second"
    assert connection.identity.expires == clock.now + TOKEN_FILE_PERIOD


def test_an_exec_plugin_runs_again_shortly_before_its_credential_expires(tmp_path: Path) -> None:
    expiry = START + datetime.timedelta(minutes=10)
    path = write_kubeconfig(
        tmp_path / "config",
        cluster={"server": "http://127.0.0.1:1"},
        user=exec_user(tmp_path, expiry=expiry.strftime("%Y-%m-%dT%H:%M:%SZ")),
    )
    clock = Clock()
    connection = load_connection(path, env={}, clock=clock)
    assert connection.identity.authorization() == "Bearer exec-token-1"
    assert connection.identity.expires == expiry - EXPIRY_MARGIN
    clock.advance(datetime.timedelta(minutes=9))
    assert connection.current().authorization() == "Bearer exec-token-1"
    assert runs(tmp_path) == 1
    clock.advance(datetime.timedelta(seconds=31))
    assert connection.current().authorization() == "Bearer exec-token-2"
    assert runs(tmp_path) == 2


def test_a_rejected_exec_credential_is_replaced_once(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config", cluster={"server": "http://127.0.0.1:1"}, user=exec_user(tmp_path)
    )
    connection = load_connection(path, env={})
    rejected = connection.identity
    assert rejected.expires is None  # no expiry given: valid until the server says otherwise
    assert connection.renew(rejected).authorization() == "Bearer exec-token-2"
    # A second request that failed with the old identity does not run the plugin again.
    assert connection.renew(rejected).authorization() == "Bearer exec-token-2"
    assert runs(tmp_path) == 2


def test_a_failing_exec_plugin_is_a_clear_error(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config", cluster={"server": "http://127.0.0.1:1"}, user=exec_user(tmp_path, fail=True)
    )
    with pytest.raises(KubeConfigError, match=r"exec credential plugin .* gave no credential"):
        load_kubeconfig(path)


@pytest.mark.parametrize(
    ("content", "context", "message"),
    [
        (None, None, "no kubeconfig found"),
        ("apiVersion: v1\nkind: Config\n", None, "cannot use kubeconfig"),
        (None, "absent", "cannot use kubeconfig"),
    ],
)
def test_broken_kubeconfigs_are_clear_errors(
    tmp_path: Path, content: str | None, context: str | None, message: str
) -> None:
    path = tmp_path / "config"
    if content is None:
        write_kubeconfig(path, cluster={"server": "https://127.0.0.1:1"}, user={"token": "t"})
    else:
        path.write_text(content)
    if content is None and context is None:
        path = tmp_path / "absent"
    with pytest.raises(KubeConfigError, match=message):
        load_kubeconfig(path, context=context)


def service_account(directory: Path) -> Path:
    ca, _ = self_signed()
    directory.mkdir()
    (directory / "token").write_text("sa-token-1")
    (directory / "ca.crt").write_bytes(ca)
    (directory / "namespace").write_text("kube-system")
    return directory


IN_CLUSTER = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def test_in_cluster_reads_the_service_account_volume_and_rereads_the_token(tmp_path: Path) -> None:
    directory = service_account(tmp_path / "sa")
    clock = Clock()
    connection = KubeConnection(
        lambda: load_in_cluster(env=IN_CLUSTER, directory=directory, now=clock()), clock=clock
    )
    identity = connection.identity
    assert identity.server == "https://10.96.0.1:443"
    assert identity.ca_path == str(directory / "ca.crt")
    assert identity.default_namespace == "kube-system"
    assert identity.authorization() == "Bearer sa-token-1"
    (directory / "token").write_text("sa-token-2")  # the kubelet rotated it
    clock.advance(TOKEN_FILE_PERIOD)
    assert connection.current().authorization() == "Bearer sa-token-2"


def test_in_cluster_brackets_an_ipv6_service_address(tmp_path: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    assert (
        load_in_cluster(env=env, directory=service_account(tmp_path / "sa")).server == "https://[fd00::1]:443"
    )


def test_in_cluster_without_a_token_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="in-cluster ServiceAccount"):
        load_in_cluster(env=IN_CLUSTER, directory=tmp_path)


def test_the_source_is_chosen_in_kubectls_order(tmp_path: Path) -> None:
    def config(name: str) -> Path:
        (tmp_path / name).mkdir(exist_ok=True)
        return write_kubeconfig(
            tmp_path / name / "config", cluster={"server": f"https://{name}.invalid:1"}, user={"token": name}
        )

    explicit, from_env, home = config("explicit"), config("env"), tmp_path / "home"
    home.mkdir()
    (home / ".kube").mkdir()
    config("home").rename(home / ".kube" / "config")
    env = {"KUBECONFIG": str(from_env), "HOME": str(home), **IN_CLUSTER}

    def server(kubeconfig: Path | None, **overrides: str) -> str:
        try:
            return load_connection(kubeconfig, env={**env, **overrides}).identity.server
        except KubeConfigError as error:
            return f"in-cluster: {error}" if "ServiceAccount" in str(error) else str(error)

    assert server(explicit) == "https://explicit.invalid:1"
    assert server(None) == "https://env.invalid:1"
    assert server(None, KUBECONFIG="").startswith("in-cluster: ")  # no volume on this machine
    assert server(None, KUBECONFIG="", KUBERNETES_SERVICE_HOST="") == "https://home.invalid:1"


def test_login_fields_build_a_working_kopf_connection_info(tmp_path: Path) -> None:
    ca, _ = self_signed()
    cert, key = self_signed()
    token = tmp_path / "token"
    token.write_text("s3cr3t")
    path = write_kubeconfig(
        tmp_path / "config",
        cluster={"server": "https://127.0.0.1:6443", "certificate-authority-data": b64(ca)},
        user={"tokenFile": str(token), "client-certificate-data": b64(cert), "client-key-data": b64(key)},
        namespace="apps",
    )
    clock = Clock()
    info = kopf.ConnectionInfo(**load_connection(path, env={}, clock=clock).login_fields())
    assert info.server == "https://127.0.0.1:6443"
    assert info.default_namespace == "apps"
    assert info.as_http_headers() == {"Authorization": "Bearer s3cr3t"}
    assert len(info.as_ssl_context().get_ca_certs()) == 1
    # A file's re-read period is no expiry for kopf (it would log in again every minute).
    assert info.expiration is None


def test_every_kopf_login_loads_afresh(tmp_path: Path) -> None:
    """kopf logs in again after a 401 and never reuses a rejected credential: the login must
    hand it the rotated token at once, not the one our client holds until its next re-read."""
    token = tmp_path / "token"
    token.write_text("before-rotation")
    path = write_kubeconfig(
        tmp_path / "config", cluster={"server": "http://127.0.0.1:1"}, user={"tokenFile": str(token)}
    )
    connection = load_connection(path, env={}, clock=Clock())
    token.write_text("after-rotation")
    assert connection.login_fields()["token"] == "after-rotation"
    assert connection.identity.authorization() == "Bearer after-rotation"


def test_kopf_gets_the_expiry_of_an_exec_credential(tmp_path: Path) -> None:
    expiry = START + datetime.timedelta(minutes=10)
    user = exec_user(tmp_path, expiry=expiry.strftime("%Y-%m-%dT%H:%M:%SZ"))
    path = write_kubeconfig(tmp_path / "config", cluster={"server": "http://127.0.0.1:1"}, user=user)
    connection = load_connection(path, env={}, clock=Clock())
    fields = connection.login_fields()
    assert fields["token"] == "exec-token-2"  # the login ran the plugin again
    assert fields["expiration"] == expiry - EXPIRY_MARGIN


def test_the_identity_never_shows_its_token() -> None:
    identity = Identity(server="http://127.0.0.1:1", token=SecretStr("hidden"))
    assert "hidden" not in repr(identity)
    assert identity.authorization() == "Bearer hidden"
