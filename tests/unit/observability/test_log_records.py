"""We test these aspects of logging: credentials are redacted from messages, arguments, extras
and tracebacks (Authorization headers, bearer tokens, AccessKey secrets in several spellings,
STS tokens, JWTs) while client tokens, IDs and ordinary text survive; the JSON formatter writes
one object per line with stable top-level keys, other extras nested under "extra", kopf's
object reference as "object", and the exception; the text formatter appends the stable keys;
configure_logging installs one redacting handler on the root."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from podeip.observability.logging import (
    JsonFormatter,
    RedactingFilter,
    TextFormatter,
    configure_logging,
    redact,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXBhcnQ"
STS = "CAIS" + "x" * 60


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("headers: {'Authorization': 'Bearer abcdefgh12345'}", "abcdefgh12345"),
        ("Authorization: ACS3-HMAC-SHA256 Credential=LTAI5t,Signature=deadbeef", "deadbeef"),
        ("sending bearer abcdefgh12345678 to the server", "abcdefgh12345678"),
        ("AccessKeySecret=Wk3s9aLq0pZ8vR2tX5yB7nC1mD4fG6", "Wk3s9aLq0pZ8vR2tX5yB7nC1mD4fG6"),
        ('{"access_key_secret": "Wk3s9aLq0pZ8vR2tX5yB7nC1mD4fG6"}', "Wk3s9aLq0pZ8vR2tX5yB7nC1mD4fG6"),
        ("x-acs-security-token: some-sts-value", "some-sts-value"),
        (f"SecurityToken={STS}&Action=X", STS),
        (f"got a token {STS} from STS", STS),
        (f"projected token {JWT} read", JWT),
        ("password=hunter2hunter2", "hunter2hunter2"),
        ("client_secret: abc123", "abc123"),
    ],
)
def test_credentials_are_redacted(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert "***" in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "allocated eip-bp1abc on pod ns/web-0 (request_id=4F1A-22)",
        "ClientToken=5d41402abc4b2a76b9719d911017c592",
        "podeip-controller.alibabacloud.com/client-token: 0f1e2d",
        "NextToken=abc and a tokenless sentence about secrets",
    ],
)
def test_ordinary_text_and_non_secret_tokens_survive(text: str) -> None:
    assert redact(text) == text


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("podeip.test.logging")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream, handler
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_filter_redacts_arguments_extras_and_tracebacks(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())
    try:
        raise RuntimeError("request failed: Authorization: Bearer abcdefgh12345")
    except RuntimeError:
        logger.exception(
            "calling %s with token=%s", "AllocateEipAddress", "tok-123456", extra={"header": f"Bearer {JWT}"}
        )
    (entry,) = lines(stream)
    text = json.dumps(entry)
    assert "tok-123456" not in text
    assert JWT not in text
    assert "abcdefgh12345" not in text
    assert entry["message"] == "calling AllocateEipAddress with token=***"
    assert "RuntimeError" in entry["exception"]


def test_json_lines_carry_stable_keys_at_the_top_and_other_extras_nested(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())
    logger.info(
        "associated",
        extra={
            "podeip": "ns/web-0",
            "pod": "ns/web-0",
            "allocation_id": "eip-1",
            "operation": "AssociateEipAddress",
            "request_id": "RID-1",
            "attempt": 2,
        },
    )
    (entry,) = lines(stream)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "podeip.test.logging"
    assert entry["message"] == "associated"
    assert (entry["podeip"], entry["pod"], entry["allocation_id"]) == ("ns/web-0", "ns/web-0", "eip-1")
    assert (entry["operation"], entry["request_id"]) == ("AssociateEipAddress", "RID-1")
    assert entry["extra"] == {"attempt": 2}
    assert entry["time"].endswith("+00:00")


def test_kopf_object_references_become_one_object_field(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())
    ref = {"apiVersion": "v1", "kind": "PodEIP", "namespace": "ns", "name": "web-0", "uid": "u"}
    logger.info("handled", extra={"k8s_ref": ref, "k8s_skip": False, "settings": object()})
    (entry,) = lines(stream)
    assert entry["object"] == "PodEIP:ns/web-0"
    assert "extra" not in entry


def test_text_lines_append_the_stable_keys(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, handler = captured
    handler.setFormatter(TextFormatter())
    logger.warning("throttled", extra={"operation": "AllocateEipAddress", "request_id": "RID-9"})
    line = stream.getvalue().strip()
    assert line.endswith("podeip.test.logging: throttled [operation=AllocateEipAddress request_id=RID-9]")


def test_configure_logging_installs_one_redacting_handler_on_the_root() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        configure_logging("WARNING", "json", stream=stream)
        configure_logging("INFO", "json", stream=stream)
        assert len(root.handlers) == 1
        assert root.level == logging.INFO
        logging.getLogger("aiohttp.client").info("Authorization: Bearer abcdefgh12345")
        logging.getLogger("podeip.x").debug("not shown")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    (entry,) = lines(stream)
    assert entry["message"] == "Authorization: ***"
