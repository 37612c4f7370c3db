"""Kubernetes API failures as types, so callers branch on classes and never on strings.

The API server answers every failure with a ``Status`` object whose ``code`` and ``reason`` say
what happened. 409 carries two different meanings, told apart by ``reason``: ``AlreadyExists``
(a create lost a race: for claims, someone else holds the ID) and ``Conflict`` (an optimistic
lock failed: re-read and decide again). They are sibling classes so that ``except Conflict``
never swallows an ``AlreadyExists``.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A failed request. ``status`` is the HTTP code (0 when no response came back)."""

    def __init__(self, *, status: int, reason: str, message: str, body: dict[str, Any] | None = None):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}


class NotFound(ApiError):
    """404: the object (or its namespace) does not exist."""


class Conflict(ApiError):
    """409 Conflict: resourceVersion or UID precondition failed; re-read and retry."""


class AlreadyExists(ApiError):
    """409 AlreadyExists: a create found the name taken."""


class Unauthorized(ApiError):
    """401: the credentials were rejected (expired token?)."""


class Forbidden(ApiError):
    """403: RBAC denies the verb, or the namespace is terminating."""


class Invalid(ApiError):
    """422: validation failed, or a JSON patch ``test`` operation did not match."""


class Unavailable(ApiError):
    """429, 5xx or no response, after the client's bounded retries."""


def error_for(*, status: int, body: dict[str, Any] | None) -> ApiError:
    """Map one API server response to the narrowest error class."""
    body = body or {}
    reason = str(body.get("reason") or "")
    message = str(body.get("message") or "")
    cls: type[ApiError]
    if status == 404:
        cls = NotFound
    elif status == 409:
        cls = AlreadyExists if reason == "AlreadyExists" else Conflict
    elif status == 401:
        cls = Unauthorized
    elif status == 403:
        cls = Forbidden
    elif status == 422:
        cls = Invalid
    elif status == 429 or status >= 500:
        cls = Unavailable
    else:
        cls = ApiError
    return cls(status=status, reason=reason or cls.__name__, message=message, body=body)


def invalid_fields(error: ApiError) -> set[str]:
    """The field paths a 422 names in ``details.causes`` (``metadata.uid``, ``spec.x``)."""
    causes = (error.body.get("details") or {}).get("causes") or []
    return {str(cause.get("field")) for cause in causes if isinstance(cause, dict)}


def as_conflict(error: ApiError) -> Conflict:
    """Report a failed precondition as the 409 callers handle (re-read and decide again)."""
    return Conflict(status=409, reason="Conflict", message=error.message, body=error.body)
