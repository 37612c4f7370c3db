"""Where the API server is and how to prove who we are, read once at startup.

The operator talks to Kubernetes through two clients: kopf's (watches, handler patches) and our
own (everything the reconcilers write). Both must use the same identity, so connection info is
loaded in exactly one place and handed to both: ``podeip.app`` turns a :class:`KubeConnection`
into a ``kopf.ConnectionInfo``, and :class:`podeip.k8s.client.KubeClient` builds its TLS context
and ``Authorization`` header from it.

Two sources, as client-go has them: a kubeconfig file (its current context, or a named one) and
the in-cluster ServiceAccount. Bound ServiceAccount tokens expire and the kubelet rotates the
file, so a token that comes from a file is never cached here: :meth:`KubeConnection.read_token`
re-reads it and callers decide how often (the client re-reads it every minute).
Environment variables are not read here: the caller passes ``KUBERNETES_SERVICE_HOST`` and
``KUBERNETES_SERVICE_PORT`` in, keeping ``os.environ`` at the edge (style rule 10).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeConfigError(Exception):
    """The connection info is missing, incomplete or unreadable."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class KubeConnection:
    """One API endpoint and one identity. PEM data is held decoded (kopf accepts PEM bytes)."""

    server: str
    ca_path: Path | None = None
    ca_data: bytes | None = None
    insecure: bool = False
    token: SecretStr | None = None
    #: A token file re-read on demand (ServiceAccount tokens rotate); wins over ``token``.
    token_path: Path | None = None
    certificate_path: Path | None = None
    certificate_data: bytes | None = None
    private_key_path: Path | None = None
    private_key_data: bytes | None = None
    default_namespace: str | None = None

    def read_token(self) -> str | None:
        """The bearer token as of now: the file's current content, or the static token."""
        if self.token_path is not None:
            try:
                return self.token_path.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise KubeConfigError(f"cannot read token file {self.token_path}: {exc}") from exc
        return self.token.get_secret_value() if self.token is not None else None

    def login_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``kopf.ConnectionInfo`` (built in ``podeip.app``, which may
        import kopf), with the token as of now: call it from every ``on.login``."""
        return {
            "server": self.server,
            "ca_path": str(self.ca_path) if self.ca_path else None,
            "ca_data": self.ca_data,
            "insecure": self.insecure,
            "token": self.read_token(),
            "certificate_path": str(self.certificate_path) if self.certificate_path else None,
            "certificate_data": self.certificate_data,
            "private_key_path": str(self.private_key_path) if self.private_key_path else None,
            "private_key_data": self.private_key_data,
            "default_namespace": self.default_namespace,
        }

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS settings for ``https`` servers; ``None`` for plain ``http``."""
        if not self.server.startswith("https://"):
            return None
        context = ssl.create_default_context(
            cafile=str(self.ca_path) if self.ca_path else None,
            cadata=self.ca_data.decode("ascii") if self.ca_data else None,
        )
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        # Python's ssl loads client certificates only from files: spill in-memory PEM briefly.
        with contextlib.ExitStack() as stack:
            cert = _as_file(stack, path=self.certificate_path, data=self.certificate_data)
            key = _as_file(stack, path=self.private_key_path, data=self.private_key_data)
            if cert is not None:
                context.load_cert_chain(certfile=cert, keyfile=key)
        return context


def _as_file(stack: contextlib.ExitStack, *, path: Path | None, data: bytes | None) -> str | None:
    if path is not None:
        return str(path)
    if data is None:
        return None
    spill = stack.enter_context(tempfile.NamedTemporaryFile(buffering=0))  # noqa: SIM115 (closed by the stack)
    spill.write(data)
    return spill.name


def load_connection(kubeconfig: Path | None, *, env: Mapping[str, str]) -> KubeConnection:
    """The operator's choice: the kubeconfig when one is configured, else in-cluster."""
    if kubeconfig is not None:
        return load_kubeconfig(kubeconfig)
    return load_in_cluster(
        host=env.get("KUBERNETES_SERVICE_HOST", ""),
        port=env.get("KUBERNETES_SERVICE_PORT", ""),
    )


def load_in_cluster(*, host: str, port: str, directory: Path = SERVICE_ACCOUNT_DIR) -> KubeConnection:
    """The pod's ServiceAccount: token and CA from the projected volume."""
    if not host or not port:
        raise KubeConfigError("not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set")
    token_path = directory / "token"
    if not token_path.is_file():
        raise KubeConfigError(f"no ServiceAccount token at {token_path}")
    namespace_path = directory / "namespace"
    ca_path = directory / "ca.crt"
    # An IPv6 service address needs brackets in a URL.
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return KubeConnection(
        server=f"https://{host}:{port}",
        ca_path=ca_path if ca_path.is_file() else None,
        token_path=token_path,
        default_namespace=namespace_path.read_text(encoding="utf-8").strip() or None
        if namespace_path.is_file()
        else None,
    )


def load_kubeconfig(path: Path, *, context: str | None = None) -> KubeConnection:
    """One kubeconfig file; relative file references resolve against its directory (as kubectl)."""
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise KubeConfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    context_name = context or config.get("current-context")
    if not context_name:
        raise KubeConfigError(f"{path}: no current-context and no context given")
    ctx = _named(config, section="contexts", name=context_name, key="context")
    cluster = _named(config, section="clusters", name=ctx.get("cluster"), key="cluster")
    user = _named(config, section="users", name=ctx.get("user"), key="user") if ctx.get("user") else {}
    if not cluster.get("server"):
        raise KubeConfigError(f"{path}: cluster {ctx.get('cluster')!r} has no server")
    base = path.parent

    def file_ref(value: object) -> Path | None:
        return None if not value else (base / Path(str(value))).resolve()

    token = user.get("token")
    return KubeConnection(
        server=str(cluster["server"]).rstrip("/"),
        ca_path=file_ref(cluster.get("certificate-authority")),
        ca_data=_pem(cluster.get("certificate-authority-data")),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        token=SecretStr(str(token)) if token else None,
        token_path=file_ref(user.get("tokenFile")) if not token else None,
        certificate_path=file_ref(user.get("client-certificate")),
        certificate_data=_pem(user.get("client-certificate-data")),
        private_key_path=file_ref(user.get("client-key")),
        private_key_data=_pem(user.get("client-key-data")),
        default_namespace=ctx.get("namespace") or None,
    )


def _named(config: Mapping[str, Any], *, section: str, name: object, key: str) -> dict[str, Any]:
    for item in config.get(section) or []:
        if isinstance(item, dict) and item.get("name") == name:
            value = item.get(key) or {}
            if not isinstance(value, dict):
                raise KubeConfigError(f"{section} entry {name!r} is malformed")
            return value
    raise KubeConfigError(f"no {key} named {name!r} in {section}")


def _pem(value: object) -> bytes | None:
    """Kubeconfig ``*-data`` fields are base64 of PEM; tolerate raw PEM too."""
    if not value:
        return None
    text = str(value).strip()
    if text.startswith("-----BEGIN "):
        return text.encode("ascii")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise KubeConfigError("a *-data field is neither base64 nor PEM") from exc
