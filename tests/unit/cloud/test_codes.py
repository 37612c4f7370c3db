"""We test these aspects: the one table from Alibaba error codes to error classes and statuses.

Exact codes, families by prefix and suffix, unknown codes by HTTP status, no answer at all,
which classes are retryable, and the statuses the simulator answers with.
"""

from __future__ import annotations

import pytest

from podeip.cloud import errors
from podeip.cloud.alibaba.openapi import codes


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("InvalidAllocationId.NotFound", errors.NotFound),
        ("InvalidInstanId.NotFound", errors.TargetGone),
        ("InvalidEniId.NotFound", errors.TargetGone),
        ("IncorrectEipStatus", errors.InvalidState),
        ("InvalidAssociation.Duplicated", errors.InvalidState),
        ("TaskConflict", errors.TaskConflict),
        ("TaskConflict.AssociateGlobalAccelerationInstance", errors.TaskConflict),
        ("OperationConflict", errors.TaskConflict),
        ("QuotaExceeded.Eip", errors.QuotaExceeded),
        ("QuotaExceeded.Something", errors.QuotaExceeded),
        ("Throttling", errors.Throttled),
        ("Throttling.User", errors.Throttled),
        ("Throttling.NewKind", errors.Throttled),
        ("Forbidden", errors.Forbidden),
        ("Forbidden.RAM", errors.Forbidden),
        ("InvalidAccessKeyId.Inactive", errors.Forbidden),
        ("Other.FinancialLocked", errors.Forbidden),
        ("InvalidParameter.Mismatch", errors.InvalidParameter),
        ("IllegalParam.Isp", errors.InvalidParameter),
        ("Some.Malformed", errors.InvalidParameter),
        ("IdempotentParameterMismatch", errors.IdempotentParameterMismatch),
        ("InternalError", errors.Transient),
        ("OperationFailed.SystemBusy", errors.Transient),
    ],
)
def test_known_codes_and_families_map_to_their_class(code: str, cls: type[errors.CloudError]) -> None:
    assert codes.error_class(code) is cls


def test_unknown_codes_fall_back_on_the_http_status() -> None:
    assert codes.error_class("Brand.NewCode", http_status=503) is errors.Transient
    assert codes.error_class("Brand.NewCode", http_status=400) is errors.InvalidParameter


def test_no_code_means_no_answer_which_is_transport() -> None:
    error = codes.error_for(None, message="connection reset", operation="AllocateEipAddress")
    assert isinstance(error, errors.Transport) and error.retryable and error.code is None


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (errors.Throttled, True),
        (errors.Transient, True),
        (errors.Transport, True),
        (errors.TaskConflict, True),
        (errors.InvalidState, False),
        (errors.NotFound, False),
        (errors.QuotaExceeded, False),
        (errors.Forbidden, False),
        (errors.InvalidParameter, False),
        (errors.WaitTimeout, False),
    ],
)
def test_each_class_knows_whether_a_retry_can_help(cls: type[errors.CloudError], retryable: bool) -> None:
    assert cls.retryable is retryable


def test_errors_carry_code_message_request_id_and_operation() -> None:
    error = codes.error_for(
        "IncorrectEipStatus", message="busy", request_id="R-1", operation="ReleaseEipAddress"
    )
    assert (error.code, error.message, error.request_id, error.operation) == (
        "IncorrectEipStatus",
        "busy",
        "R-1",
        "ReleaseEipAddress",
    )
    assert "IncorrectEipStatus" in str(error) and "R-1" in str(error)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("InvalidAllocationId.NotFound", 404),
        ("Forbidden", 403),
        ("Throttling.User", 400),
        ("InternalError", 500),
        ("ServiceUnavailable", 503),
        ("OperationConflict", 409),
        ("Made.Up", 400),
    ],
)
def test_the_simulator_answers_each_code_with_alibabas_status(code: str, status: int) -> None:
    assert codes.http_status(code) == status
