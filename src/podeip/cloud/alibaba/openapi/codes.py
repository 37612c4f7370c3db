"""Alibaba error code → error class and HTTP status: the one table (docs/alibaba-api.md §6).

Both providers classify through ``error_for``; the simulated cloud raises its errors through
it too and its HTTP front answers with ``http_status``, so the simulator and the real cloud
cannot disagree about what a code means. Codes are taken from the VPC and ECS API references
(https://www.alibabacloud.com/help/en/vpc/developer-reference/api-vpc-2016-04-28-errorcodes,
https://api.aliyun.com/document/Ecs/2014-05-26/errorCode). Unknown codes fall back by prefix,
then by HTTP status: 5xx transient, anything else a bad request.
"""

from __future__ import annotations

from typing import Final

from podeip.cloud import errors

# --- codes the operator or the simulator refers to by name ---------------------------------
MISSING_PARAMETER: Final = "MissingParameter"
INVALID_PARAMETER: Final = "InvalidParameter"
IDEMPOTENT_MISMATCH: Final = "IdempotentParameterMismatch"
EIP_NOT_FOUND: Final = "InvalidAllocationId.NotFound"
INCORRECT_EIP_STATUS: Final = "IncorrectEipStatus"
TASK_CONFLICT: Final = "TaskConflict"
ASSOCIATION_DUPLICATED: Final = "InvalidAssociation.Duplicated"
INSTANCE_NOT_FOUND: Final = "InvalidInstanId.NotFound"
PARAMS_NOT_FOUND: Final = "InvalidParams.NotFound"
BIND_INSTANCE_NOT_FOUND: Final = "InvalidBindInstance.NotFound"
QUOTA_EIP: Final = "QuotaExceeded.Eip"
QUOTA_TAGS: Final = "QuotaExceeded.TagNum"
THROTTLING_USER: Final = "Throttling.User"
FORBIDDEN: Final = "Forbidden"
PREPAID: Final = "Forbidden.ChargeTypeIsPrepaid"
DELETION_PROTECTION: Final = "InvalidOperation.DeletionProtection"
BIZ_DISABLED: Final = "InvalidEIPStatus.BizDisabled"
INTERNAL_ERROR: Final = "InternalError"
SERVICE_UNAVAILABLE: Final = "ServiceUnavailable"
INVALID_TAG_KEY: Final = "InvalidTagKey"
INVALID_TAG_VALUE: Final = "InvalidTagValue"
TAG_RESOURCE_TYPE: Final = "InvalidInstanceType.NotFound"
TAG_RESOURCE_IDS: Final = "InvalidInstanceIds.NotFound"
REGION_NOT_FOUND: Final = "InvalidRegionId.NotFound"
CBWP_NOT_FOUND: Final = "InvalidBandwidthPackageId.NotFound"
CBWP_IP_NOT_FOUND: Final = "InvalidIpInstanceId.NotFound"
CBWP_ALREADY_MEMBER: Final = "IpInstanceId.AlreadyInBandwidthPackage"
CBWP_NOT_MEMBER: Final = "OperationUnsupported.IpNotInCbwp"
CBWP_NOT_MEMBER_ALT: Final = "IpInstanceId.NotBandwidthPackage"
ENI_NOT_FOUND: Final = "InvalidEniId.NotFound"
ACCESS_KEY_NOT_FOUND: Final = "InvalidAccessKeyId.NotFound"
SIGNATURE_MISMATCH: Final = "SignatureDoesNotMatch"
INCOMPLETE_SIGNATURE: Final = "IncompleteSignature"
NONCE_USED: Final = "SignatureNonceUsed"
TIMESTAMP_EXPIRED: Final = "InvalidTimeStamp.Expired"
ACTION_NOT_FOUND: Final = "InvalidAction.NotFound"
#: Not an Alibaba code: our name for "no answer" (the SDK reports ``code=None``).
TRANSPORT: Final = "Transport"

_E = errors
#: code → (class, HTTP status the cloud answers with)
TABLE: Final[dict[str, tuple[type[errors.CloudError], int]]] = {
    # bad request
    MISSING_PARAMETER: (_E.InvalidParameter, 400),
    INVALID_PARAMETER: (_E.InvalidParameter, 400),
    IDEMPOTENT_MISMATCH: (_E.IdempotentParameterMismatch, 400),
    "InvalidBandwidth.Malformed": (_E.InvalidParameter, 400),
    "InvalidInstanceType.ValueNotSupported": (_E.InvalidParameter, 400),
    "InvalidIAssociatedInstanceType.ValueNotSupported": (_E.InvalidParameter, 400),
    "InvalidChargeType.ValueNotSupported": (_E.InvalidParameter, 400),
    "InvalidResourceGroupId": (_E.InvalidParameter, 400),
    "Mode.Conflict": (_E.InvalidParameter, 400),
    "OperationDenied.NotOpenDdosOriginProtectService": (_E.InvalidParameter, 400),
    INVALID_TAG_KEY: (_E.InvalidParameter, 400),
    INVALID_TAG_VALUE: (_E.InvalidParameter, 400),
    "Forbidden.TagKeys": (_E.InvalidParameter, 400),
    "Forbidden.TagKey.Duplicated": (_E.InvalidParameter, 400),
    "BothEmpty.TagsAndResources": (_E.InvalidParameter, 403),
    "SizeLimitExceeded.ResourceId": (_E.InvalidParameter, 400),
    ACTION_NOT_FOUND: (_E.InvalidParameter, 404),
    # not found
    EIP_NOT_FOUND: (_E.NotFound, 404),
    REGION_NOT_FOUND: (_E.InvalidParameter, 404),
    "Forbidden.RegionNotFound": (_E.InvalidParameter, 404),
    CBWP_NOT_FOUND: (_E.NotFound, 404),
    CBWP_IP_NOT_FOUND: (_E.NotFound, 404),
    TAG_RESOURCE_IDS: (_E.NotFound, 400),
    TAG_RESOURCE_TYPE: (_E.InvalidParameter, 400),
    "ResourceNotFound.PublicIpAddressPool": (_E.InvalidParameter, 400),
    # target gone
    INSTANCE_NOT_FOUND: (_E.TargetGone, 404),
    "InvalidInstanceId.NotFound": (_E.TargetGone, 404),
    PARAMS_NOT_FOUND: (_E.TargetGone, 404),
    "InvalidNicOrVm.NotFound": (_E.TargetGone, 404),
    BIND_INSTANCE_NOT_FOUND: (_E.TargetGone, 404),
    "InvalidInstance.NotExist": (_E.TargetGone, 400),
    "OperationFailed.InstanceNotExist": (_E.TargetGone, 400),
    ENI_NOT_FOUND: (_E.TargetGone, 404),
    # state and conflict
    INCORRECT_EIP_STATUS: (_E.InvalidState, 400),
    "InvalidBindingStatus": (_E.InvalidState, 400),
    "IncorrectStatus.Eip": (_E.InvalidState, 400),
    "IncorrectInstanceStatus": (_E.InvalidState, 400),
    "InvalidStatus.EniStatusNotSupport": (_E.InvalidState, 400),
    "InvalidStatus.EcsStatusNotSupport": (_E.InvalidState, 400),
    "OperationFailed.EcsMigrating": (_E.InvalidState, 400),
    ASSOCIATION_DUPLICATED: (_E.InvalidState, 400),
    CBWP_ALREADY_MEMBER: (_E.InvalidState, 400),
    CBWP_NOT_MEMBER: (_E.InvalidState, 400),
    CBWP_NOT_MEMBER_ALT: (_E.InvalidState, 400),
    "OperationFailed.EipBindModeConflict": (_E.InvalidState, 400),
    TASK_CONFLICT: (_E.TaskConflict, 400),
    "OperationConflict": (_E.TaskConflict, 409),
    "LastTokenProcessing": (_E.TaskConflict, 400),
    "EipOperation.TooFrequently": (_E.TaskConflict, 400),
    "OperationFailed.DistibuteLock": (_E.TaskConflict, 400),
    "OrderFailed.ConcurrentOperate": (_E.TaskConflict, 400),
    "FrequentPurchase.EIP": (_E.TaskConflict, 400),
    # quota and capacity
    QUOTA_EIP: (_E.QuotaExceeded, 400),
    "ORDER.QUANTITY_INVALID": (_E.QuotaExceeded, 400),
    "OperationFailed.InsufficientEIP": (_E.QuotaExceeded, 400),
    "OperationFailed.ResourceNotEnough": (_E.QuotaExceeded, 400),
    "ResourceNotEnough.PublicIpAddressPool": (_E.QuotaExceeded, 400),
    "QuotaExceeded.LargeSpecEip": (_E.QuotaExceeded, 400),
    "IpInstanceId.QuotaExceeded": (_E.QuotaExceeded, 400),
    QUOTA_TAGS: (_E.QuotaExceeded, 400),
    "SizeLimitExceeded.TagNum": (_E.QuotaExceeded, 400),
    "QuotaExceed.MultiBindedEip": (_E.QuotaExceeded, 400),
    "InvalidEip.EipQuotaExceeded": (_E.QuotaExceeded, 400),
    # permission, credentials, account
    FORBIDDEN: (_E.Forbidden, 403),
    ACCESS_KEY_NOT_FOUND: (_E.Forbidden, 404),
    SIGNATURE_MISMATCH: (_E.Forbidden, 400),
    INCOMPLETE_SIGNATURE: (_E.Forbidden, 400),
    NONCE_USED: (_E.Forbidden, 400),
    TIMESTAMP_EXPIRED: (_E.Forbidden, 400),
    BIZ_DISABLED: (_E.Forbidden, 400),
    PREPAID: (_E.Forbidden, 400),
    DELETION_PROTECTION: (_E.Forbidden, 400),
    "InsufficientBalance": (_E.Forbidden, 400),
    "PAY.INSUFFICIENT_BALANCE": (_E.Forbidden, 400),
    "OperationFailed.RiskControl": (_E.Forbidden, 400),
    "BIND_INSTANCE_OWENER_ERROR": (_E.Forbidden, 400),
    # throttling
    "Throttling": (_E.Throttled, 400),
    THROTTLING_USER: (_E.Throttled, 400),
    "Throttling.Api": (_E.Throttled, 400),
    "Rejected.Throttling": (_E.Throttled, 400),
    # server side
    INTERNAL_ERROR: (_E.Transient, 500),
    SERVICE_UNAVAILABLE: (_E.Transient, 503),
    "OperationFailed.SystemBusy": (_E.Transient, 500),
    "UnknownError": (_E.Transient, 500),
    TRANSPORT: (_E.Transport, 502),
}

#: Families of codes, tried in order when a code is not in TABLE.
PREFIXES: Final[tuple[tuple[str, type[errors.CloudError]], ...]] = (
    ("Throttling", _E.Throttled),
    ("TaskConflict", _E.TaskConflict),
    ("InvalidAccessKeyId", _E.Forbidden),
    ("InvalidSecurityToken", _E.Forbidden),
    ("Forbidden", _E.Forbidden),
    ("QuotaExceeded", _E.QuotaExceeded),
    ("InvalidParameter", _E.InvalidParameter),
    ("IllegalParam", _E.InvalidParameter),
    ("Mismatch.", _E.InvalidParameter),
)
#: Families recognised by suffix.
SUFFIXES: Final[tuple[tuple[str, type[errors.CloudError]], ...]] = (
    (".FinancialLocked", _E.Forbidden),
    (".Malformed", _E.InvalidParameter),
    (".NotFound", _E.NotFound),
)


def error_class(code: str | None, *, http_status: int | None = None) -> type[errors.CloudError]:
    """The class for ``code``; ``None`` means no answer came back (transport)."""
    if code is None:
        return errors.Transport
    if code in TABLE:
        return TABLE[code][0]
    for prefix, cls in PREFIXES:
        if code.startswith(prefix):
            return cls
    for suffix, cls in SUFFIXES:
        if code.endswith(suffix):
            return cls
    if http_status is not None and http_status >= 500:
        return errors.Transient
    return errors.InvalidParameter


def http_status(code: str) -> int:
    """The HTTP status Alibaba answers ``code`` with (the simulator's HTTP front uses it)."""
    if code in TABLE:
        return TABLE[code][1]
    cls = error_class(code)
    if issubclass(cls, errors.Transient):
        return 500
    if issubclass(cls, errors.NotFound):
        return 404
    if cls is errors.Forbidden:
        return 403
    return 400


def error_for(
    code: str | None,
    *,
    message: str = "",
    request_id: str | None = None,
    operation: str | None = None,
    http_status: int | None = None,
    retry_after: float | None = None,
) -> errors.CloudError:
    """Build the classified exception for an error answer (or a missing one)."""
    cls = error_class(code, http_status=http_status)
    return cls(
        message,
        code=code,
        request_id=request_id,
        operation=operation,
        http_status=http_status,
        retry_after=retry_after,
    )
