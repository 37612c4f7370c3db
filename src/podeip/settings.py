"""The one typed settings object, read once at startup and passed explicitly.

Environment variables use the prefix ``PODEIP_`` and ``__`` for nesting
(``PODEIP_CLOUD__REGION_ID``). The Helm chart maps AENC's documented values (clusterID,
regionID, vpcID, maxConcurrentReconciles, …) onto these names, so nothing else in the code
reads ``os.environ``. Secrets are ``SecretStr`` so that they never show in a repr or a log.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from podeip import constants
from podeip.api import durations
from podeip.cloud_apis import APIS

#: A list given in the environment as ``a,b,c`` (not JSON).
CommaList = Annotated[list[str], NoDecode]


class RateLimit(BaseModel):
    """A token bucket: ``per_minute`` calls on average, ``burst`` at once."""

    per_minute: float = Field(gt=0)
    burst: int = Field(default=10, ge=1)


def _default_rate_limits() -> dict[str, RateLimit]:
    """One limit per cloud API, from its row in ``podeip.cloud_apis``: below Alibaba's
    published limits (docs/alibaba-api.md §11), leaving ~10% (mutations) and ~17% (reads) to
    other tools in the account."""
    return {api.name: RateLimit(per_minute=api.client_limit, burst=api.client_burst) for api in APIS}


def default_rate_limits() -> dict[str, RateLimit]:
    """The default client-side limits (public: the benchmark reports them)."""
    return _default_rate_limits()


class CredentialSettings(BaseModel):
    """How the Alibaba provider authenticates. The first complete option wins:
    an AccessKey pair (given directly or as mounted files), RRSA (an OIDC token file and
    role), then the ECS instance RAM role."""

    access_key_id: SecretStr | None = None
    access_key_secret: SecretStr | None = None
    #: Files of a mounted Secret (re-read on authentication errors; Secret volumes update in place).
    access_key_id_file: Path | None = None
    access_key_secret_file: Path | None = None
    #: RRSA: the ack-pod-identity-webhook injects these.
    oidc_role_arn: str | None = None
    oidc_provider_arn: str | None = None
    oidc_token_file: Path | None = None
    role_session_name: str = "podeip-operator"
    #: The worker's RAM role name on ECS (empty: discovered from instance metadata).
    ecs_ram_role_name: str | None = None
    use_ecs_ram_role: bool = True


class CloudSettings(BaseModel):
    provider: Literal["alibaba", "simulated"] = "alibaba"
    region_id: str = ""
    vpc_id: str = ""
    #: Endpoint overrides: a host (``vpc.cn-hangzhou.aliyuncs.com``) or a URL
    #: (``http://127.0.0.1:18080`` for ``podeip cloud-sim``). Empty: the region's default.
    vpc_endpoint: str = ""
    ecs_endpoint: str = ""
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=10.0, gt=0)
    credentials: CredentialSettings = Field(default_factory=CredentialSettings)
    rate_limits: dict[str, RateLimit] = Field(default_factory=_default_rate_limits)
    #: Retries inside the cloud layer for retryable errors (throttling, transport, 5xx).
    max_retries: int = Field(default=4, ge=0, le=20)
    backoff_base_seconds: float = Field(default=0.5, gt=0)
    backoff_cap_seconds: float = Field(default=20.0, gt=0)


class GCSettings(BaseModel):
    #: AENC's garbageCollectionPeriodInMinutes: TTL sweep, podLastSeen refresh, drift repair.
    period_minutes: float = Field(default=1.0, gt=0)
    #: Orphan EIPs younger than this are never released (async states, list races).
    orphan_grace_minutes: float = Field(default=10.0, ge=0)
    #: Abort the orphan sweep when candidates exceed max(3, this fraction of tagged EIPs).
    orphan_max_fraction: float = Field(default=0.1, gt=0, le=1)
    dry_run: bool = False


class LeaderSettings(BaseModel):
    """The leader Lease (``podeip.k8s.leadership``): seconds; see README "One active instance"."""

    lease_duration_seconds: float = Field(default=15.0, ge=1)
    renew_every_seconds: float = Field(default=5.0, gt=0)
    renew_deadline_seconds: float = Field(default=10.0, gt=0)
    retry_every_seconds: float = Field(default=2.0, gt=0)
    #: Who holds the Lease. The chart sets ``<pod name>_<pod UID>``, so that the restarted
    #: container of the same pod takes the Lease back at once. Empty: hostname and a random
    #: suffix (a restarted process then waits for the Lease to expire).
    identity: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> LeaderSettings:
        if not self.renew_every_seconds < self.renew_deadline_seconds < self.lease_duration_seconds:
            raise ValueError(
                "leader: renew_every_seconds < renew_deadline_seconds < lease_duration_seconds is required"
            )
        return self


class WatchSettings(BaseModel):
    """kopf's watches (pods, PodEIPs, StatefulSets): what they keep in memory
    (``podeip.app.kopf_settings``; BENCHMARKS.md "Memory at start-up"). The first two are not Helm
    values: the defaults suit clusters of any size; the chart's ``extraEnv`` sets them if ever
    needed."""

    #: Objects per page of each start-up listing (``limit`` and ``continue``), kopf's and the
    #: view's. One page of bodies is alive at a time instead of every pod of the cluster, most of
    #: which ask for no EIP. 100, not client-go's 500: the two listings run at once and each
    #: page's bodies are parsed whole (a restart among 20,000 pods without EIP and 2,000 with,
    #: peak RSS over 90 s: 157 MiB at 500, 146 with kopf's pages at 100 or the view's alone, 141
    #: with both), for some 200 more list requests per 20,000 pods at start-up. 0: one unpaged
    #: listing (kopf's own default).
    list_chunk_size: int = Field(default=100, ge=0)
    #: Seconds kopf keeps an object's worker, and the last body it holds, after its last event.
    #: Our handlers only enqueue a key, so a worker has nothing to wait for; kopf's default of
    #: 5 s keeps every listed pod's body alive during the start-up listing.
    worker_idle_seconds: float = Field(default=0.5, gt=0)
    #: Helm ``podeip.watch.selectLabeledPods``: watch and list only pods labelled
    #: ``podeip-controller.alibabacloud.com/eip=true`` (``constants.WATCH_LABEL``), which the chart's
    #: MutatingAdmissionPolicy adds at creation to pods with an enabling annotation. Off by default:
    #: pods created before the policy, or annotated after creation, are not seen (README "Watching
    #: only labelled pods"); a pod that has a PodEIP is read by name instead, so it keeps its EIP.
    select_labeled_pods: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PODEIP_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    #: Value of the cluster-id ownership tag. Empty: the kube-system namespace UID.
    cluster_id: str = ""
    #: AENC's enableControllers; "eip" must be present for the EIP controller to run.
    enable_controllers: CommaList = Field(default_factory=lambda: ["eip"])
    #: AENC's maxConcurrentReconciles: cap on concurrent cloud-mutating reconciles.
    max_concurrent_reconciles: int = Field(default=1, ge=1, le=200)
    custom_stateful_workload_kinds: CommaList = Field(default_factory=list)
    enable_virtual_node: bool = False
    #: Node label that marks a virtual (ECI) node.
    virtual_node_label: str = "type=virtual-kubelet"
    #: Helm ``podeip.maxReleaseAfter``: the longest TTL kept, a Go duration such as ``720h``.
    #: Unset (the default): every positive duration is kept as written. Longer TTLs are
    #: clamped to it with a ``ReleaseStrategyClamped`` Warning, never refused.
    max_release_after: timedelta | None = None
    #: Helm ``podeip.keptEipExpiry``: the longest an EIP is kept unbound after its pod is gone,
    #: under Never and TTL alike (TKE's ``--claim-expired-duration``); then the PodEIP ends as
    #: Follow would. A Go duration of at least 5m; unset (the default): no expiry.
    kept_eip_expiry: timedelta | None = None
    #: Test-only: the lowest ``kept_eip_expiry`` accepted (5m in every real deployment; the
    #: chart never sets it). Integration tests lower it to see an expiry within seconds.
    testing_kept_eip_expiry_minimum: timedelta = timedelta(minutes=5)
    #: Helm ``podeip.cascadeReclaim``: when the workload (StatefulSet, custom stateful kind) that
    #: created a kept PodEIP is deleted, end it at once (Auto released, Static unbound).
    cascade_reclaim: bool = False
    max_bandwidth_mbps: int = Field(default=500, ge=1)
    #: Helm ``podeip.tkeAnnotations``: read Tencent TKE's ``tke.cloud.tencent.com/eip-*`` keys
    #: as the last spelling of ours (:mod:`podeip.domain.tke`).
    tke_annotations: bool = True
    allow_prepaid: bool = False
    #: Adopt (tag as ours) the untagged Auto EIP of any PodEIP the operator did not create, even
    #: without proof that it is bound to that PodEIP's pod (issue 10; README "How ownership
    #: works"). An administrator's opt-in for a migration window; off by default.
    adopt_untagged_eips: bool = False

    #: Kubernetes access: a kubeconfig path (or several joined by ":"). Empty: KUBECONFIG, then
    #: the in-cluster ServiceAccount, then ~/.kube/config (``podeip.k8s.connection``).
    kubeconfig: Path | None = None
    #: The kubeconfig context to use. Empty: its current-context.
    kube_context: str | None = None
    #: Sized so that the client is not what binds the operator below the cloud's rate: pods
    #: bound and pods gone at once (a restart after churn) spend about 11 requests per pair at
    #: up to 2 pairs a second (110/min each), 22 requests a second; at rest it makes none.
    kube_client_qps: float = Field(default=30.0, gt=0)
    kube_client_burst: int = Field(default=45, ge=1)
    #: Namespace of the operator (Leases for static-EIP claims and the leader Lease live here).
    namespace: str = "kube-system"
    #: The only instance: no leader Lease (tests, the demo). Production keeps it False.
    standalone: bool = False
    leader: LeaderSettings = Field(default_factory=LeaderSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)

    cloud: CloudSettings = Field(default_factory=CloudSettings)
    gc: GCSettings = Field(default_factory=GCSettings)

    metrics_host: str = "0.0.0.0"
    metrics_port: int = Field(default=9090, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    #: Test-only crash points (docs/reliability.md §4): names at which the process exits at once.
    crash_points: CommaList = Field(default_factory=list)

    @field_validator("enable_controllers", "custom_stateful_workload_kinds", "crash_points", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("max_release_after", "kept_eip_expiry", "testing_kept_eip_expiry_minimum", mode="before")
    @classmethod
    def _go_duration(cls, value: object) -> object:
        # A Go duration, like the annotation it caps; empty means unset. Numbers are refused so
        # that "720" is not silently read as 720 seconds.
        if value is None or value == "":
            return None
        if isinstance(value, timedelta) and value > timedelta(0):
            return value
        if not isinstance(value, str):
            raise ValueError("a Go duration such as 720h")
        try:
            return durations.parse_release_after(value)
        except durations.DurationError as exc:
            raise ValueError(f"a positive Go duration such as 720h: {exc}") from None

    @field_validator("cluster_id")
    @classmethod
    def _not_a_placeholder(cls, value: str) -> str:
        if constants.CLUSTER_ID_PLACEHOLDER in value.lower():
            raise ValueError(
                f"clusterID {value!r} is a placeholder (it contains {constants.CLUSTER_ID_PLACEHOLDER!r}, "
                "like the documentation's c11ba338192xxxxxxx): two clusters sharing a cluster ID would "
                "sweep each other's kept EIPs. Set this cluster's own ID, or leave clusterID empty to "
                "use the kube-system namespace UID"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        # RRSA: ack-pod-identity-webhook injects the standard variables into the operator pod;
        # our own PODEIP_CLOUD__CREDENTIALS__OIDC_* win when set.
        creds = self.cloud.credentials
        if not creds.oidc_role_arn and os.environ.get("ALIBABA_CLOUD_ROLE_ARN"):
            creds.oidc_role_arn = os.environ["ALIBABA_CLOUD_ROLE_ARN"]
            creds.oidc_provider_arn = creds.oidc_provider_arn or os.environ.get(
                "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
            )
            token_file = os.environ.get("ALIBABA_CLOUD_OIDC_TOKEN_FILE")
            creds.oidc_token_file = creds.oidc_token_file or (Path(token_file) if token_file else None)
        minimum = self.testing_kept_eip_expiry_minimum
        if self.kept_eip_expiry is not None and self.kept_eip_expiry < minimum:
            raise ValueError(
                f"kept_eip_expiry (keptEipExpiry) must be at least {durations.format_go_duration(minimum)}"
            )
        if self.cloud.provider == "alibaba" and not self.cloud.vpc_endpoint and not self.cloud.region_id:
            raise ValueError("cloud.region_id (regionID) is required with the alibaba provider")
        return self

    @property
    def eip_enabled(self) -> bool:
        return "eip" in self.enable_controllers
