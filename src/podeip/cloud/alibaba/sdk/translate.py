"""SDK shapes ↔ ours: which SDK request and method serve an action, and SDK errors → CloudError.

The rest of the provider works with the wire dictionaries of ``podeip.cloud.alibaba.openapi.wire``; the SDK
models read them with ``from_map`` and give them back with ``to_map``. SDK exceptions are
classified by their code through ``podeip.cloud.alibaba.openapi.codes``, never by their class, which changed
across tea-openapi versions (docs/alibaba-api.md §7.6).
"""

from __future__ import annotations

from typing import Any, Final

from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_vpc20160428 import models as vpc_models
from Tea.exceptions import TeaException

from podeip.cloud import errors
from podeip.cloud.alibaba.openapi import codes
from podeip.cloud_apis import APIS

_MODELS: Final = {"vpc": vpc_models, "ecs": ecs_models}
#: action → (client: "vpc" | "ecs", request model, async method of the client), from the API
#: registry: the SDK's names follow from the API's name.
ACTIONS: Final[dict[str, tuple[str, type[Any], str]]] = {
    api.name: (api.service, getattr(_MODELS[api.service], f"{api.name}Request"), api.sdk_method)
    for api in APIS
}


def request_for(action: str, params: dict[str, Any]) -> Any:
    """The SDK request model of ``action`` filled from wire-named ``params``."""
    return ACTIONS[action][1]().from_map(params)


def error_from(exc: BaseException, *, operation: str) -> errors.CloudError:
    """Classify anything the SDK raised; ``code is None`` (no answer) becomes Transport."""
    if not isinstance(exc, TeaException):
        # e.g. the bare AttributeError of a non-object 2xx body (docs/alibaba-api.md §7.5).
        return errors.Transport(f"{type(exc).__name__}: {exc}", operation=operation)
    data = exc.data if isinstance(getattr(exc, "data", None), dict) else {}
    code = getattr(exc, "code", None) or None
    status = getattr(exc, "status_code", None) or data.get("statusCode")
    retry_after_ms = getattr(exc, "retry_after", None)
    message = data.get("Message") or ("" if code else str(getattr(exc, "message", "") or exc))
    request_id = getattr(exc, "request_id", None) or data.get("RequestId")
    return codes.error_for(
        code,
        message=message,
        # The SDK fills absent attributes with the string 'None' (docs/alibaba-api.md §8).
        request_id=request_id if request_id not in (None, "", "None") else None,
        operation=operation,
        http_status=int(status) if status else None,
        retry_after=float(retry_after_ms) / 1000 if retry_after_ms else None,
    )


def is_credential_error(error: errors.CloudError) -> bool:
    """Errors that a rotated AccessKey could fix."""
    return bool(error.code) and (
        str(error.code).startswith(("InvalidAccessKeyId", "InvalidSecurityToken"))
        or error.code == codes.SIGNATURE_MISMATCH
    )
