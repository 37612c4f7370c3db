"""Every name the operator shares with the outside world, in one place.

Users, other controllers (OpenKruiseGame reads the PodEIP fields) and the cloud account see
these strings; renaming one breaks a contract. The Kubernetes names follow the API that
Alibaba documents for ack-extend-network-controller (AENC); the private names use the
finalizer's domain so that nothing of ours can clash with a user's key.

Ownership tag contract (Auto EIPs only; Static EIPs are never tagged):

====================================================  =============================  =========
tag key                                               value                          decides
====================================================  =============================  =========
``podeip-controller.alibabacloud.com/cluster-id``     settings ``cluster_id``        yes
``podeip-controller.alibabacloud.com/managed-by``     ``podeip-operator``            yes
``podeip-controller.alibabacloud.com/podeip-uid``     the PodEIP's UID               yes
``podeip-controller.alibabacloud.com/namespace``      pod namespace (≤128 chars)     no
``podeip-controller.alibabacloud.com/pod-name``       pod name (≤128 chars)          no
====================================================  =============================  =========

An EIP is ours to release only when the three deciding tags match and the PodEIP says
``type: Auto``. Users may add at most ``MAX_USER_TAGS`` tags, never under our prefix.
"""

from typing import Final

# --- the PodEIP custom resource -------------------------------------------------------------
GROUP: Final = "alibabacloud.com"
VERSION: Final = "v1beta1"
PLURAL: Final = "podeips"
KIND: Final = "PodEIP"
CRD_NAME: Final = f"{PLURAL}.{GROUP}"
FINALIZER: Final = "podeip-controller.alibabacloud.com/finalizer"

# --- annotation prefixes --------------------------------------------------------------------
#: Read first when both prefixes carry a key (docs/compatibility.md §2.1).
PREFIX_NETWORK: Final = "network.alibabacloud.com/"
#: Terway's and AENC's original prefix; read second.
PREFIX_K8S: Final = "k8s.aliyun.com/"
#: Private keys on PodEIPs, kopf's storage and cloud tags.
PRIVATE_PREFIX: Final = "podeip-controller.alibabacloud.com/"

# --- input annotation suffixes (valid under both prefixes) ----------------------------------
POD_WITH_EIP: Final = "pod-with-eip"
POD_EIP_INSTANCE_ID: Final = "pod-eip-instanceid"
RELEASE_STRATEGY: Final = "pod-eip-release-strategy"
EIP_BANDWIDTH: Final = "eip-bandwidth"
EIP_INTERNET_CHARGE_TYPE: Final = "eip-internet-charge-type"
EIP_INSTANCE_CHARGE_TYPE: Final = "eip-instance-charge-type"
EIP_ISP: Final = "eip-isp"
EIP_COMMON_BANDWIDTH_PACKAGE_ID: Final = "eip-common-bandwidth-package-id"
EIP_PUBLIC_IP_ADDRESS_POOL_ID: Final = "eip-public-ip-address-pool-id"
EIP_RESOURCE_GROUP_ID: Final = "eip-resource-group-id"
EIP_NAME: Final = "eip-name"
EIP_DESCRIPTION: Final = "eip-description"
EIP_SECURITY_PROTECTION_TYPES: Final = "eip-security-protection-types"
EIP_TAGS: Final = "eip-tags"
#: A comma list of existing EIPs for a workload's pods (replica N gets entry N): a pool.
POD_EIP_INSTANCE_ID_LIST: Final = "pod-eip-instanceid-list"

INPUT_SUFFIXES: Final = (
    POD_WITH_EIP,
    POD_EIP_INSTANCE_ID,
    RELEASE_STRATEGY,
    EIP_BANDWIDTH,
    EIP_INTERNET_CHARGE_TYPE,
    EIP_INSTANCE_CHARGE_TYPE,
    EIP_ISP,
    EIP_COMMON_BANDWIDTH_PACKAGE_ID,
    EIP_PUBLIC_IP_ADDRESS_POOL_ID,
    EIP_RESOURCE_GROUP_ID,
    EIP_NAME,
    EIP_DESCRIPTION,
    EIP_SECURITY_PROTECTION_TYPES,
    EIP_TAGS,
    POD_EIP_INSTANCE_ID_LIST,
)

#: Compat aliases, read only under ``k8s.aliyun.com/`` and after both prefixed forms.
ALIASES: Final = {
    "eci-with-eip": POD_WITH_EIP,
    "eci-eip-instanceid": POD_EIP_INSTANCE_ID,
    "eip-charge-type": EIP_INTERNET_CHARGE_TYPE,
}

#: ACS's pinning key (seed 001): read as an existing-EIP (Static) request when no instance-ID
#: key is set (docs/compatibility.md §2.2); the operator never writes it.
ACS_ALLOCATED_EIP_ID: Final = PREFIX_NETWORK + "allocated-eip-id"

# --- Tencent TKE spellings (seed 004), read when ``settings.tke_annotations`` is on -----------
TKE_PREFIX: Final = "tke.cloud.tencent.com/"
TKE_EIP_ATTRIBUTES: Final = TKE_PREFIX + "eip-attributes"
TKE_EIP_CLAIM_DELETE_POLICY: Final = TKE_PREFIX + "eip-claim-delete-policy"
TKE_EIP_ID_LIST: Final = TKE_PREFIX + "eip-id-list"
#: TKE-only things that have no effect on ACK (named in Warnings, never read).
TKE_NETWORKS: Final = TKE_PREFIX + "networks"
TKE_RESOURCES: Final = (TKE_PREFIX + "eip", TKE_PREFIX + "eni-ip")

# --- outputs --------------------------------------------------------------------------------
ALLOCATED_EIP_ADDRESS_KEYS: Final = (
    PREFIX_K8S + "allocated-eipAddress",
    PREFIX_NETWORK + "allocated-eipAddress",
)
READINESS_GATE: Final = "k8s.aliyun.com/eip"
READINESS_REASON_OK: Final = "Associate eip succeed"
CONTROLLER_MARKER_KEY: Final = PREFIX_K8S + "eip-controller"
CONTROLLER_MARKER_VALUE: Final = "podeip-operator"

# --- private PodEIP annotations -------------------------------------------------------------
#: The label the chart's MutatingAdmissionPolicy adds at creation to pods that ask for an EIP;
#: with ``watch.select_labeled_pods`` the operator watches and lists only pods that carry it.
WATCH_LABEL: Final = PRIVATE_PREFIX + "eip"
WATCH_LABEL_VALUE: Final = "true"
WATCH_LABEL_SELECTOR: Final = f"{WATCH_LABEL}={WATCH_LABEL_VALUE}"
ANN_CLIENT_TOKEN: Final = PRIVATE_PREFIX + "client-token"
ANN_ATTEMPT: Final = PRIVATE_PREFIX + "attempt"
ANN_REQUEST: Final = PRIVATE_PREFIX + "request"
ANN_POD_UID: Final = PRIVATE_PREFIX + "pod-uid"
ANN_OWNER: Final = PRIVATE_PREFIX + "owner"
#: The controller owner's ``apiVersion`` and UID at creation (cascade reclaim): a new workload
#: of the same name has another UID and is not mistaken for the old one.
ANN_OWNER_API_VERSION: Final = PRIVATE_PREFIX + "owner-api-version"
ANN_OWNER_UID: Final = PRIVATE_PREFIX + "owner-uid"
#: When the operator first saw the PodEIP's pod gone (RFC 3339 with microseconds): the TTL runs
#: from here, across restarts.
ANN_POD_GONE_SINCE: Final = PRIVATE_PREFIX + "pod-gone-since"
#: The kept-EIP expiry (RFC 3339) a warning was given for, so that it is given once.
ANN_EXPIRY_WARNED: Final = PRIVATE_PREFIX + "expiry-warned"

# --- ownership tags -------------------------------------------------------------------------
TAG_CLUSTER_ID: Final = PRIVATE_PREFIX + "cluster-id"
TAG_MANAGED_BY: Final = PRIVATE_PREFIX + "managed-by"
TAG_PODEIP_UID: Final = PRIVATE_PREFIX + "podeip-uid"
TAG_NAMESPACE: Final = PRIVATE_PREFIX + "namespace"
TAG_POD_NAME: Final = PRIVATE_PREFIX + "pod-name"
MANAGED_BY: Final = "podeip-operator"
MAX_TAGS_PER_EIP: Final = 20
MAX_USER_TAGS: Final = MAX_TAGS_PER_EIP - 5

# --- workloads ------------------------------------------------------------------------------
#: Owner kinds (lower-cased, API group ignored) that make a pod stateful.
STATEFUL_KINDS: Final = frozenset({"statefulset"})

# --- PodEIP conditions ----------------------------------------------------------------------
COND_READY: Final = "Ready"
COND_SYNCED: Final = "Synced"

# --- Event reasons (docs/style.md, Names: success in past tense, failures Failed<Verb>Eip) ---
EV_ALLOCATED: Final = "EipAllocated"
EV_ASSOCIATED: Final = "EipAssociated"
EV_UNASSOCIATED: Final = "EipUnassociated"
EV_RELEASED: Final = "EipReleased"
EV_PRESERVED: Final = "EipPreserved"
EV_ADOPTED: Final = "EipAdopted"
EV_INVALID_ANNOTATION: Final = "InvalidAnnotation"
EV_CONFLICTING_ANNOTATIONS: Final = "ConflictingAnnotations"
EV_ANNOTATION_IGNORED: Final = "AnnotationIgnored"
EV_RELEASE_STRATEGY_IGNORED: Final = "ReleaseStrategyIgnored"
EV_RELEASE_STRATEGY_CLAMPED: Final = "ReleaseStrategyClamped"
EV_EXISTING_EIP_REQUESTED: Final = "ExistingEipRequested"
EV_CLAIMED_BY_OTHER: Final = "EipClaimedByOtherPod"
EV_QUOTA_EXCEEDED: Final = "QuotaExceeded"
EV_PERMISSION_DENIED: Final = "CloudPermissionDenied"
EV_THROTTLED: Final = "CloudThrottled"
EV_CONFLICT: Final = "EipConflict"
#: A PodEIP the operator did not create names an untagged EIP it has no proof of (issue 10).
EV_NOT_ADOPTED: Final = "EipNotAdopted"
#: The EIP a PodEIP names carries ownership tags for another PodEIP UID (changed out of band).
EV_TAG_MISMATCH: Final = "EipTagMismatch"
EV_FAILED_ALLOCATE: Final = "FailedAllocateEip"
EV_FAILED_ASSOCIATE: Final = "FailedAssociateEip"
EV_FAILED_UNASSOCIATE: Final = "FailedUnassociateEip"
EV_FAILED_RELEASE: Final = "FailedReleaseEip"
EV_NO_ENI: Final = "EniNotFound"
EV_POD_SKIPPED: Final = "PodSkipped"
#: EIP annotations edited on a running pod: read only at creation, so nothing changes.
EV_ANNOTATIONS_CHANGED: Final = "EipAnnotationsChanged"
#: On Terway's eni-config or AENC's Deployment: another EIP controller runs, we refuse to.
EV_OTHER_CONTROLLER: Final = "AnotherEipControllerRunning"
EV_TKE_ANNOTATIONS_READ: Final = "TkeAnnotationsRead"
EV_TKE_ONLY: Final = "TkeOnlyOnAck"
EV_EIP_LIST_EXHAUSTED: Final = "EipListExhausted"
EV_EIP_EXPIRING: Final = "EipExpiring"
EV_EIP_EXPIRED: Final = "EipExpired"
EV_OWNER_DELETED: Final = "WorkloadDeleted"
#: Cloud failures by the API that failed (one table: no reason is built from an operation
#: name); every API of ``podeip.cloud_apis`` has a row (a unit test says so).
EV_FAILED_DESCRIBE: Final = "FailedDescribeEip"
EV_FAILED_TAG: Final = "FailedTagEip"
EV_FAILED_JOIN_PACKAGE: Final = "FailedJoinBandwidthPackageEip"
EV_FAILED_LEAVE_PACKAGE: Final = "FailedLeaveBandwidthPackageEip"
EV_FAILED_FIND_ENI: Final = "FailedFindEniEip"
#: A cloud failure whose operation is not known (none of the rows below).
EV_FAILED_RECONCILE: Final = "FailedReconcileEip"
FAILURE_REASONS: Final = {
    "AllocateEipAddress": EV_FAILED_ALLOCATE,
    "AssociateEipAddress": EV_FAILED_ASSOCIATE,
    "UnassociateEipAddress": EV_FAILED_UNASSOCIATE,
    "ReleaseEipAddress": EV_FAILED_RELEASE,
    "DescribeEipAddresses": EV_FAILED_DESCRIBE,
    "TagResources": EV_FAILED_TAG,
    "AddCommonBandwidthPackageIp": EV_FAILED_JOIN_PACKAGE,
    "RemoveCommonBandwidthPackageIp": EV_FAILED_LEAVE_PACKAGE,
    "DescribeNetworkInterfaces": EV_FAILED_FIND_ENI,
}
#: Reasons of the PodEIP's Ready condition (and of the pod's readiness gate while not bound);
#: Event reasons too when the state is warned about.
EV_WAITING_FOR_POD_IP: Final = "WaitingForPodIP"
EV_POD_IP_STILL_BOUND: Final = "PodIPStillBound"
EV_ASSOCIATING: Final = "Associating"
EV_UNASSOCIATING: Final = "Unassociating"
EV_RELEASING: Final = "Releasing"
EV_BOUND: Final = "Associated"
EV_WAITING_FOR_TTL: Final = "WaitingForTTL"
EV_POD_GONE: Final = "PodGone"
EV_EIP_NOT_FOUND: Final = "EipNotFound"
EV_EIP_LOST: Final = "EipLost"
#: The catalogue: every reason the operator writes (Events, conditions), and nothing else.
#: Users alert on these; a new reason is a new ``EV_`` constant above.
REASONS: Final = frozenset(
    {value for name, value in list(globals().items()) if name.startswith("EV_")} | {READINESS_REASON_OK}
)

# --- metrics (prometheus names; units in the name; counters end in _total) -------------------
METRIC_CLOUD_CALLS: Final = "podeip_cloud_api_calls_total"
METRIC_CLOUD_DURATION: Final = "podeip_cloud_api_call_duration_seconds"
METRIC_CLOUD_RETRIES: Final = "podeip_cloud_api_retries_total"
METRIC_RECONCILE_ERRORS: Final = "podeip_reconcile_errors_total"
METRIC_EIPS: Final = "podeip_eips"
METRIC_GC_RELEASED: Final = "podeip_gc_released_total"
METRIC_READY_SECONDS: Final = "podeip_readiness_gate_ready_seconds"
#: Every request the operator's own Kubernetes client makes (kopf's watches are not counted).
METRIC_KUBE_REQUESTS: Final = "podeip_kube_api_requests_total"
METRIC_LEADER: Final = "podeip_leader"

#: A clusterID containing this (any case) is a documentation placeholder, e.g. Alibaba's
#: c11ba338192xxxxxxx; the chart's "podeip.validate" refuses the same.
CLUSTER_ID_PLACEHOLDER: Final = "xxxx"
METRIC_UNBOUND_SECONDS: Final = "podeip_eip_unbound_longest_seconds"
METRIC_TERMINATING_SECONDS: Final = "podeip_podeip_terminating_longest_seconds"

# --- Kubernetes objects the operator writes besides PodEIPs ---------------------------------
#: Events' ``source.component`` and ``reportingController``.
EVENT_COMPONENT: Final = "podeip-operator"
#: Claim Leases (docs/reliability.md R7) are named this prefix plus the allocation ID.
CLAIM_LEASE_PREFIX: Final = "podeip-claim-"
