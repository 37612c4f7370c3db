"""We test these aspects of loading connection info: a kubeconfig's current context (or a named
one) selects server, token, CA data, client certificate and key data, insecure mode and the
default namespace; relative file references resolve against the kubeconfig's directory; a
tokenFile is re-read on every call; the in-cluster loader reads the ServiceAccount volume and
needs both service variables; the choice between the two; broken files fail with a clear
KubeConfigError; the TLS context really loads the CA and the client key pair; the login fields
build a kopf ConnectionInfo whose TLS context and headers match."""

from __future__ import annotations

import base64
import datetime
import ssl
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from podeip.k8s.config import KubeConfigError, load_connection, load_in_cluster, load_kubeconfig


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


def test_token_and_ca_data_come_from_the_current_context(tmp_path: Path) -> None:
    ca, _ = self_signed()
    path = write_kubeconfig(
        tmp_path / "config",
        cluster={"server": "https://127.0.0.1:6443/", "certificate-authority-data": b64(ca)},
        user={"token": "s3cr3t"},
        namespace="apps",
    )
    connection = load_kubeconfig(path)
    assert connection.server == "https://127.0.0.1:6443"
    assert connection.ca_data == ca
    assert connection.read_token() == "s3cr3t"
    assert "s3cr3t" not in repr(connection)
    assert connection.default_namespace == "apps"
    assert connection.insecure is False


def test_a_named_context_overrides_the_current_one(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "config", cluster={"server": "https://127.0.0.1:1"}, user={"token": "t"}
    )
    connection = load_kubeconfig(path, context="other")
    assert connection.server == "https://127.0.0.9:1"
    assert connection.read_token() == "wrong"


def test_client_certificate_data_and_insecure_mode_are_read(tmp_path: Path) -> None:
    cert, key = self_signed()
    path = write_kubeconfig(
        tmp_path / "config",
        cluster={"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True},
        user={"client-certificate-data": b64(cert), "client-key-data": b64(key)},
    )
    connection = load_kubeconfig(path)
    assert (connection.certificate_data, connection.private_key_data) == (cert, key)
    assert connection.read_token() is None
    context = connection.ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_NONE
    assert context.check_hostname is False


def test_relative_file_references_resolve_against_the_kubeconfig_directory(tmp_path: Path) -> None:
    cert, key = self_signed()
    (tmp_path / "pki").mkdir()
    for name, data in (("ca.crt", cert), ("client.crt", cert), ("client.key", key)):
        (tmp_path / "pki" / name).write_bytes(data)
    (tmp_path / "token").write_text("from-file\n")
    path = write_kubeconfig(
        tmp_path / "config",
        cluster={"server": "https://127.0.0.1:6443", "certificate-authority": "pki/ca.crt"},
        user={"client-certificate": "pki/client.crt", "client-key": "pki/client.key", "tokenFile": "token"},
    )
    connection = load_kubeconfig(path)
    assert connection.ca_path == tmp_path.resolve() / "pki" / "ca.crt"
    assert connection.certificate_path == tmp_path.resolve() / "pki" / "client.crt"
    assert connection.private_key_path == tmp_path.resolve() / "pki" / "client.key"
    assert connection.read_token() == "from-file"
    context = connection.ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1


def test_a_token_file_is_re_read_on_every_call(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("first")
    path = write_kubeconfig(
        tmp_path / "config", cluster={"server": "https://127.0.0.1:1"}, user={"tokenFile": "token"}
    )
    connection = load_kubeconfig(path)
    assert connection.read_token() == "first"
    (tmp_path / "token").write_text("second")
    assert connection.read_token() == "second"


def test_plain_http_servers_get_no_tls_context(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", cluster={"server": "http://127.0.0.1:8080"}, user={})
    assert load_kubeconfig(path).ssl_context() is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("current-context: nope\ncontexts: []\n", "no context named 'nope'"),
        ("clusters: []\n", "no current-context"),
        (
            "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
            "clusters: [{name: c, cluster: {}}]\nusers: [{name: u, user: {}}]\n",
            "has no server",
        ),
        (
            "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
            "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: '!!'}}]\n",
            "neither base64 nor PEM",
        ),
        ("{unbalanced", "cannot read kubeconfig"),
    ],
)
def test_broken_kubeconfigs_fail_with_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config"
    path.write_text(content)
    with pytest.raises(KubeConfigError, match=message):
        load_kubeconfig(path)


def test_a_missing_kubeconfig_fails_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="cannot read kubeconfig"):
        load_kubeconfig(tmp_path / "absent")


def service_account(directory: Path) -> Path:
    ca, _ = self_signed()
    directory.mkdir()
    (directory / "token").write_text("sa-token-1\n")
    (directory / "ca.crt").write_bytes(ca)
    (directory / "namespace").write_text("kube-system")
    return directory


def test_in_cluster_reads_the_service_account_volume(tmp_path: Path) -> None:
    directory = service_account(tmp_path / "sa")
    connection = load_in_cluster(host="10.96.0.1", port="443", directory=directory)
    assert connection.server == "https://10.96.0.1:443"
    assert connection.ca_path == directory / "ca.crt"
    assert connection.default_namespace == "kube-system"
    assert connection.read_token() == "sa-token-1"
    (directory / "token").write_text("sa-token-2\n")
    assert connection.read_token() == "sa-token-2"


def test_in_cluster_brackets_an_ipv6_service_address(tmp_path: Path) -> None:
    connection = load_in_cluster(host="fd00::1", port="443", directory=service_account(tmp_path / "sa"))
    assert connection.server == "https://[fd00::1]:443"


def test_in_cluster_needs_both_service_variables(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="not in a cluster"):
        load_in_cluster(host="10.96.0.1", port="", directory=service_account(tmp_path / "sa"))


def test_the_kubeconfig_wins_when_configured_else_in_cluster_is_used(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", cluster={"server": "https://127.0.0.1:1"}, user={})
    assert load_connection(path, env={"KUBERNETES_SERVICE_HOST": "10.0.0.1"}).server == "https://127.0.0.1:1"
    with pytest.raises(KubeConfigError, match="not in a cluster"):
        load_connection(None, env={})


def test_login_fields_build_a_working_kopf_connection_info(tmp_path: Path) -> None:
    ca, _ = self_signed()
    cert, key = self_signed()
    path = write_kubeconfig(
        tmp_path / "config",
        cluster={"server": "https://127.0.0.1:6443", "certificate-authority-data": b64(ca)},
        user={"token": "s3cr3t", "client-certificate-data": b64(cert), "client-key-data": b64(key)},
        namespace="apps",
    )
    info = kopf.ConnectionInfo(**load_kubeconfig(path).login_fields())
    assert info.server == "https://127.0.0.1:6443"
    assert info.default_namespace == "apps"
    assert info.as_http_headers() == {"Authorization": "Bearer s3cr3t"}
    assert len(info.as_ssl_context().get_ca_certs()) == 1
