"""Where the API server is and how to prove who we are, loaded by the official ``kubernetes``
client library and handed to both of the operator's clients.

The operator talks to Kubernetes through two clients: kopf's (watches) and our own
(:class:`podeip.k8s.client.KubeClient`, everything the reconcilers read and write). Both use one
:class:`KubeConnection`: kopf through its login handler (``podeip.controllers.handlers``, which
turns :meth:`KubeConnection.login_fields` into a ``kopf.ConnectionInfo``), our client through
:meth:`KubeConnection.current` before each request.

**Where from**, in kubectl's order: the configured kubeconfig (``--kubeconfig`` /
``PODEIP_KUBECONFIG``; several files joined by ``:`` merge as ``KUBECONFIG`` does), its current
context or ``--context``; else ``KUBECONFIG``; else the in-cluster ServiceAccount when
``KUBERNETES_SERVICE_HOST`` is set; else ``~/.kube/config``. Reading a kubeconfig is the
library's work, so everything it knows works here: client certificates, tokens, token files,
exec credential plugins (``ExecCredential``, how ACK, EKS, GKE and OIDC logins hand out
credentials) and auth providers.

**When to load again.** Credentials expire and rotate; an :class:`Identity` carries the time
after which our client loads it afresh:

- a credential with an expiry (exec plugin, auth provider): shortly before it expires;
- a token read from a file (``tokenFile``, the in-cluster projected token the kubelet
  rotates): every minute, as client-go re-reads it;
- anything the API server rejects with 401: at once (:meth:`KubeConnection.renew`).

kopf keeps its own credentials and calls the login handler at start, after the credential's
``expiration`` (only a real expiry: a file's re-read period would make kopf log a
re-authentication every minute) and after a 401. Each call loads afresh
(:meth:`KubeConnection.login_fields`): kopf never uses a credential again once it was rejected,
and stops when the login hands it nothing new, so a cached one would be fatal after a rotation.

Loading may run a plugin (a subprocess), so it blocks: :class:`KubeClient` loads in a worker
thread, kopf runs the (synchronous) login handler in its executor; a lock keeps one load at a
time. Environment variables are passed in by the caller, keeping ``os.environ`` at the edge
(docs/style.md rule 10).
"""

from __future__ import annotations

import dataclasses
import datetime
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client as kube_library
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader
from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger
from pydantic import SecretStr

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: How often a token that lives in a file is read again (client-go's period).
TOKEN_FILE_PERIOD = datetime.timedelta(minutes=1)
#: Load a credential with an expiry this long before it expires (clocks differ a little).
EXPIRY_MARGIN = datetime.timedelta(seconds=30)


class KubeConfigError(Exception):
    """The connection info is missing, incomplete or unreadable."""


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True, kw_only=True)
class Identity:
    """One load: one API endpoint and one credential, as of the time it was loaded. Files are
    paths (the library writes ``*-data`` fields to temporary files, as kopf accepts them)."""

    server: str
    ca_path: str | None = None
    insecure: bool = False
    certificate_path: str | None = None
    private_key_path: str | None = None
    #: The ``Authorization`` header as scheme and credential (``Bearer``/token, ``Basic``/…).
    scheme: str | None = None
    token: SecretStr | None = None
    default_namespace: str | None = None
    #: When to load again; ``None``: only when the API server rejects it.
    expires: datetime.datetime | None = None
    #: When the credential itself expires (exec plugin, auth provider; less a margin).
    credential_expires: datetime.datetime | None = None

    def authorization(self) -> str | None:
        if self.token is None:
            return None
        return f"{self.scheme or 'Bearer'} {self.token.get_secret_value()}"

    def tls(self) -> tuple[str | None, str | None, str | None, bool]:
        """What the TLS context depends on (a client certificate from a plugin may change)."""
        return (self.ca_path, self.certificate_path, self.private_key_path, self.insecure)

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS settings for ``https`` servers; ``None`` for plain ``http``."""
        if not self.server.startswith("https://"):
            return None
        context = ssl.create_default_context(cafile=self.ca_path)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.certificate_path is not None:
            context.load_cert_chain(certfile=self.certificate_path, keyfile=self.private_key_path)
        return context


class KubeConnection:
    """The configured source and its current :class:`Identity`, loaded again when it is due
    or rejected. Thread-safe: kopf's login runs in an executor thread."""

    def __init__(
        self, load: Callable[[], Identity], *, clock: Callable[[], datetime.datetime] = utcnow
    ) -> None:
        self._load = load
        self._clock = clock
        self._lock = threading.Lock()
        self._identity = load()

    @classmethod
    def fixed(cls, identity: Identity) -> KubeConnection:
        """An identity that never changes (tests, and callers holding a ready credential)."""
        return cls(lambda: identity)

    @property
    def identity(self) -> Identity:
        """The identity as last loaded (it may be due: see :meth:`due`)."""
        return self._identity

    def due(self) -> bool:
        expires = self._identity.expires
        return expires is not None and self._clock() >= expires

    def current(self) -> Identity:
        """The identity, loaded again first when it is due. Blocks (may run a plugin)."""
        with self._lock:
            if self.due():
                self._identity = self._load()
            return self._identity

    def renew(self, rejected: Identity) -> Identity:
        """After a 401 with ``rejected``: load again, unless another caller already did."""
        with self._lock:
            if self._identity is rejected:
                self._identity = self._load()
            return self._identity

    def login_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``kopf.ConnectionInfo`` (built in ``podeip.controllers``,
        which may import kopf), loaded afresh: kopf logs in at start, after ``expiration`` and
        after a 401, each a moment when the credential held may no longer be valid."""
        with self._lock:
            self._identity = self._load()
            identity = self._identity
        return {
            "server": identity.server,
            "ca_path": identity.ca_path,
            "insecure": identity.insecure,
            "scheme": identity.scheme if identity.token is not None else None,
            "token": identity.token.get_secret_value() if identity.token is not None else None,
            "certificate_path": identity.certificate_path,
            "private_key_path": identity.private_key_path,
            "default_namespace": identity.default_namespace,
            "expiration": identity.credential_expires,
        }


def load_connection(
    kubeconfig: Path | None,
    *,
    context: str | None = None,
    env: Mapping[str, str],
    clock: Callable[[], datetime.datetime] = utcnow,
) -> KubeConnection:
    """The operator's choice of source (see the module docstring), loaded once now so that a
    bad configuration fails at start with a clear message."""
    chosen = str(kubeconfig) if kubeconfig is not None else env.get("KUBECONFIG") or None
    if chosen is None and env.get("KUBERNETES_SERVICE_HOST"):
        return KubeConnection(lambda: load_in_cluster(env=env, now=clock()), clock=clock)
    if chosen is None:
        chosen = str(Path(env.get("HOME") or "~").expanduser() / ".kube" / "config")
    paths = chosen
    return KubeConnection(lambda: load_kubeconfig(paths, context=context, now=clock()), clock=clock)


def load_kubeconfig(
    paths: str | Path, *, context: str | None = None, now: datetime.datetime | None = None
) -> Identity:
    """One kubeconfig (or several joined by ``:``), through the library's own loader."""
    now = now or utcnow()
    try:
        merged = KubeConfigMerger(str(paths))  # type: ignore[no-untyped-call]
        if merged.config is None:
            raise KubeConfigError(f"no kubeconfig found at {paths}")
        loader = KubeConfigLoader(  # type: ignore[no-untyped-call]
            config_dict=merged.config, active_context=context, config_base_path=None
        )
        configuration = kube_library.Configuration()
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
        chosen = loader.current_context
    except KubeConfigError:
        raise
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
        raise KubeConfigError(f"cannot use kubeconfig {paths}: {exc}") from exc
    user = _user_fields(merged.config, chosen.get("context", {}).get("user"))
    identity = _identity(configuration, namespace=chosen.get("context", {}).get("namespace"))
    if "exec" in user and identity.token is None and identity.certificate_path is None:
        # The library logs the plugin's failure and goes on without a credential.
        raise KubeConfigError(
            f"kubeconfig {paths}: the exec credential plugin {user['exec'].get('command')!r} gave no "
            "credential (its error is in the log line above)"
        )
    expiry: datetime.datetime | None = getattr(loader, "expiry", None)
    if expiry is not None:
        expires = max(now + datetime.timedelta(seconds=5), expiry - EXPIRY_MARGIN)
        return dataclasses.replace(identity, expires=expires, credential_expires=expires)
    if "tokenFile" in user and not user.get("token"):
        return dataclasses.replace(identity, expires=now + TOKEN_FILE_PERIOD)
    return identity


def load_in_cluster(
    *, env: Mapping[str, str], directory: Path = SERVICE_ACCOUNT_DIR, now: datetime.datetime | None = None
) -> Identity:
    """The pod's ServiceAccount: token and CA from the projected volume; the token file is
    re-read every minute (the kubelet rotates it)."""
    now = now or utcnow()
    configuration = kube_library.Configuration()
    try:
        InClusterConfigLoader(
            token_filename=str(directory / "token"),
            cert_filename=str(directory / "ca.crt"),
            try_refresh_token=False,
            environ=env,
        ).load_and_set(configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError) as exc:
        raise KubeConfigError(f"cannot use the in-cluster ServiceAccount: {exc}") from exc
    namespace_file = directory / "namespace"
    namespace = namespace_file.read_text(encoding="utf-8").strip() if namespace_file.is_file() else None
    return dataclasses.replace(_identity(configuration, namespace=namespace), expires=now + TOKEN_FILE_PERIOD)


def _identity(configuration: Any, *, namespace: object) -> Identity:
    """Our few fields out of the library's ``Configuration`` (as kopf's ``login_via_client``
    reads it): the header may be ``Bearer``, ``bearer`` or ``Basic``."""
    header = configuration.api_key.get("BearerToken") or configuration.api_key.get("authorization")
    scheme, _, token = str(header or "").strip().rpartition(" ")
    if scheme.lower() == "bearer":
        scheme = "Bearer"
    return Identity(
        server=str(configuration.host).rstrip("/"),
        ca_path=configuration.ssl_ca_cert or None,
        insecure=not configuration.verify_ssl,
        certificate_path=configuration.cert_file or None,
        private_key_path=configuration.key_file or None,
        scheme=(scheme or None) if token else None,
        token=SecretStr(token) if token else None,
        default_namespace=str(namespace) if namespace else None,
    )


def _user_fields(config: Any, name: object) -> dict[str, Any]:
    """The chosen user's fields (which kind of credential it is: exec, token file…)."""
    for item in config.value.get("users") or []:
        entry = getattr(item, "value", item)  # merged files hold their entries wrapped
        if isinstance(entry, dict) and entry.get("name") == name:
            return dict(entry.get("user") or {})
    return {}
