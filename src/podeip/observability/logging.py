"""Structured logs with stable keys, and no secrets in them, ever.

Every transition is logged with the same keys (docs/style.md rule 9): ``namespace``, ``pod``,
``podeip_uid``, ``allocation_id``, ``operation``, ``request_id`` (and ``podeip``). Callers pass
them as ``extra=``; the JSON formatter lifts them to the top level and nests anything else
under ``extra`` so that a new key cannot collide with the fixed ones. kopf's per-object loggers
attach ``k8s_ref``; it becomes ``object``.

Credentials travel through this process (AccessKey secrets, STS tokens, ServiceAccount
tokens), and SDK exceptions like to echo request headers. A filter on the handler rewrites every
record, message, arguments, extras and traceback, before any formatter sees it (docs/reliability.md R16).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

STABLE_KEYS = ("namespace", "pod", "podeip", "podeip_uid", "allocation_id", "operation", "request_id")
REDACTED = "***"

# Attributes every LogRecord has; anything else came in through ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# kopf's logging internals, not for output.
_IGNORED_EXTRAS = frozenset({"k8s_skip", "settings", "taskName"})

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers and bare bearer/basic credentials.
    # The header value runs to its closing quote, or else to the end of the line (ACS3 and
    # SigV4 values contain commas and spaces).
    (re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*)(?:\"[^\"]*\"|'[^']*'|[^\n]*)"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    # key=value / "key": "value" for anything named like a secret (AccessKeySecret,
    # access_key_secret, SecurityToken, x-acs-security-token, token, password, client_secret…),
    # except ClientToken and NextToken, which are idempotency and paging keys, not secrets.
    (
        re.compile(
            r"(?i)(?<![\w-])(?!(?:client|next)[-_]?token\b)"
            r"([\w-]*(?:secret|password|passwd|token|credential|signature)[\w-]*[\"']?\s*[:=]\s*[\"']?)"
            r"[^\s\"',}&]+"
        ),
        rf"\1{REDACTED}",
    ),
    # JWTs (ServiceAccount and OIDC tokens) wherever they appear.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Alibaba STS security tokens start with "CAIS".
    (re.compile(r"\bCAIS[A-Za-z0-9+/=]{20,}"), REDACTED),
)


def redact(text: str) -> str:
    """``text`` with every credential-looking value replaced by ``***``."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record in place so that formatters only ever see redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, the stable keys
    when present, ``object`` for kopf's object loggers, ``extra`` for the rest, ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra: dict[str, Any] = {}
        for key, value in vars(record).items():
            if key in _RECORD_ATTRS or key in _IGNORED_EXTRAS:
                continue
            if key in STABLE_KEYS:
                entry[key] = value
            elif key == "k8s_ref" and isinstance(value, dict):
                entry["object"] = _object_name(value)
            else:
                extra[key] = value
        if extra:
            entry["extra"] = extra
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


def _object_name(ref: dict[str, Any]) -> str:
    name = f"{ref.get('namespace')}/{ref.get('name')}" if ref.get("namespace") else str(ref.get("name"))
    return f"{ref.get('kind', '')}:{name}" if ref.get("kind") else name


class TextFormatter(logging.Formatter):
    """Human-readable lines; stable keys are appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        pairs = " ".join(f"{key}={getattr(record, key)}" for key in STABLE_KEYS if hasattr(record, key))
        if not pairs:
            return line
        head, sep, tail = line.partition("\n")
        return f"{head} [{pairs}]{sep}{tail}"


def configure_logging(
    level: str, fmt: Literal["json", "text"], *, stream: TextIO | None = None
) -> logging.Handler:
    """Route all logging (ours, kopf's, aiohttp's) through one redacting handler on the root."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
