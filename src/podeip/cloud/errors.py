"""One exception hierarchy for every cloud failure, whichever provider raised it.

Callers decide what to do from the class alone (retry, requeue, surface, treat as done), so
no code outside ``podeip.cloud`` ever looks at an Alibaba error code or message. The classes
are chosen by ``podeip.cloud.alibaba.openapi.codes`` from the code Alibaba returned; ``retryable`` says
whether sending the *same* request again (same ClientToken) may succeed without any change.
"""

from __future__ import annotations

from typing import ClassVar


class CloudError(Exception):
    """A cloud call failed. ``code`` is Alibaba's error code (``None`` when no answer came)."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        request_id: str | None = None,
        operation: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.operation = operation
        self.http_status = http_status
        #: Seconds the server asked us to wait (``x-acs-retry-after`` is in milliseconds).
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [f"{self.operation or 'cloud call'} failed: {self.code or type(self).__name__}"]
        if self.message:
            parts.append(self.message)
        if self.request_id:
            parts.append(f"(RequestId {self.request_id})")
        return " ".join(parts)


class NotFound(CloudError):
    """The resource named in the call does not exist (an EIP, a bandwidth package)."""


class TargetGone(NotFound):
    """The association target (ENI, private IP, bound instance) does not exist any more."""


class InvalidState(CloudError):
    """The resource is in a state that forbids the call; re-read it before deciding."""


class TaskConflict(InvalidState):
    """Another task holds the resource right now; the same call should pass a little later."""

    retryable = True


class QuotaExceeded(CloudError):
    """A quota or capacity limit; a human has to raise it or free resources."""


class Throttled(CloudError):
    """Flow control: too many calls of this API for the account and region."""

    retryable = True


class RateLimited(CloudError):
    """Our own client-side limit: the call was not sent; ``retry_after`` says when its slot is.

    Not retried inside the cloud layer: the caller (a reconcile worker) comes back later
    instead of sleeping while other pods wait for it.
    """


class Forbidden(CloudError):
    """Permission, credential, signature or account (billing, lock) problem."""


class InvalidParameter(CloudError):
    """The request itself is wrong; repeating it cannot help until the spec changes."""


class IdempotentParameterMismatch(InvalidParameter):
    """A ClientToken was reused with different parameters."""


class Transient(CloudError):
    """A server-side failure (5xx, system busy) that a retry may get past."""

    retryable = True


class Transport(Transient):
    """No usable answer: connection refused or dropped, timeout, unparseable body.

    The request may or may not have taken effect; only a retry with the same ClientToken (or
    a re-read) can tell.
    """


class WaitTimeout(InvalidState):
    """An EIP did not reach the wanted status within the allowed time."""
