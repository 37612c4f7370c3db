"""We test these aspects: client tokens are deterministic, ASCII, at most 64 characters, differ
by operation, attempt and request, and stay distinct when hashed; request hashes ignore tag
order; ownership tags follow the contract in constants, truncate to 128 characters, and the
ownership check needs all three deciding tags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podeip import constants as c
from podeip.domain.annotations import parse_pod_annotations
from podeip.domain.request import EipRequest
from podeip.domain.tokens import TOKEN_PREFIXES, client_token, digest, owned_by, ownership_tags, request_hash

UID = "79954a1c-17aa-4dbb-b7cc-15b84dddeeee"


def test_allocate_token_is_readable_and_deterministic() -> None:
    token = client_token(podeip_uid=UID, operation="AllocateEipAddress", attempt=0, request_hash="ab" * 32)
    assert token == f"a-{UID}-0-abababababab"
    assert token == client_token(
        podeip_uid=UID, operation="AllocateEipAddress", attempt=0, request_hash="ab" * 32
    )
    assert client_token(podeip_uid=UID, operation="AllocateEipAddress", attempt=0) == f"a-{UID}-0"


def test_tokens_differ_by_operation_attempt_and_request() -> None:
    tokens = {
        client_token(podeip_uid=UID, operation=op, attempt=attempt, request_hash=h)
        for op in TOKEN_PREFIXES
        for attempt in (0, 1)
        for h in ("", digest("x"), digest("y"))
    }
    assert len(tokens) == len(TOKEN_PREFIXES) * 2 * 3


@given(uid=st.text(max_size=100), attempt=st.integers(min_value=0, max_value=10**12), h=st.text(max_size=80))
def test_tokens_are_always_ascii_and_at_most_64_characters(uid: str, attempt: int, h: str) -> None:
    token = client_token(podeip_uid=uid, operation="AssociateEipAddress", attempt=attempt, request_hash=h)
    assert len(token) <= 64 and token.isascii() and token.isprintable() and token.startswith("s-")


def test_long_inputs_are_hashed_not_cut_so_they_stay_distinct() -> None:
    long_uid = "u" * 70
    first = client_token(podeip_uid=long_uid + "1", operation="AllocateEipAddress", attempt=0)
    second = client_token(podeip_uid=long_uid + "2", operation="AllocateEipAddress", attempt=0)
    assert first != second and len(first) == 64


def test_unknown_operation_or_negative_attempt_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        client_token(podeip_uid=UID, operation="ReleaseEipAddress", attempt=0)
    with pytest.raises(ValueError, match="negative"):
        client_token(podeip_uid=UID, operation="AllocateEipAddress", attempt=-1)


def test_request_hash_ignores_tag_order_but_not_content() -> None:
    def request(tags: str) -> EipRequest:
        result = parse_pod_annotations(
            {c.PREFIX_K8S + "pod-with-eip": "true", c.PREFIX_K8S + "eip-tags": tags}, owner_kind=None
        )
        assert result.request is not None
        return result.request

    assert request_hash(request('{"a":"1","b":"2"}')) == request_hash(request('{"b":"2","a":"1"}'))
    assert request_hash(request('{"a":"1"}')) != request_hash(request('{"a":"2"}'))


def test_digest_separates_parts_unambiguously() -> None:
    assert digest("ab", "c") != digest("a", "bc")


def test_ownership_tags_follow_the_contract_and_truncate_to_128() -> None:
    tags = ownership_tags(cluster_id="c-1", podeip_uid=UID, namespace="ns", pod_name="p" * 300)
    assert tags == {
        c.TAG_CLUSTER_ID: "c-1",
        c.TAG_MANAGED_BY: c.MANAGED_BY,
        c.TAG_PODEIP_UID: UID,
        c.TAG_NAMESPACE: "ns",
        c.TAG_POD_NAME: "p" * 128,
    }
    assert len(tags) + c.MAX_USER_TAGS == c.MAX_TAGS_PER_EIP
    with pytest.raises(ValueError, match="cluster ID"):
        ownership_tags(cluster_id="", podeip_uid=UID, namespace="ns", pod_name="p")


def test_ownership_needs_all_three_deciding_tags() -> None:
    tags = ownership_tags(cluster_id="c-1", podeip_uid=UID, namespace="ns", pod_name="p")
    assert owned_by(tags, cluster_id="c-1", podeip_uid=UID)
    assert not owned_by(tags, cluster_id="c-2", podeip_uid=UID)
    assert not owned_by(tags, cluster_id="c-1", podeip_uid="other")
    assert not owned_by({**tags, c.TAG_MANAGED_BY: "terway"}, cluster_id="c-1", podeip_uid=UID)
    assert not owned_by({}, cluster_id="", podeip_uid="")
