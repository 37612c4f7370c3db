"""We test how an edit of a running pod's EIP annotations is named (the EipAnnotationsChanged
Event): every request field maps to the annotation it comes from, and the changed ones are
listed once each, in annotation order, from the pod's annotations as parsed."""

from __future__ import annotations

from podeip import constants as c
from podeip.domain.annotations import parse_pod_annotations
from podeip.domain.request import FIELD_KEYS, EipRequest, changed_suffixes


def request(**annotations: str) -> EipRequest:
    parsed = parse_pod_annotations({c.PREFIX_K8S + k: v for k, v in annotations.items()}, owner_kind=None)
    assert parsed.request is not None, parsed.errors
    return parsed.request


def test_every_request_field_names_its_annotation() -> None:
    assert set(FIELD_KEYS) == set(EipRequest.model_fields)
    assert set(FIELD_KEYS.values()) <= set(c.INPUT_SUFFIXES)


def test_changed_annotations_are_named_once_in_annotation_order() -> None:
    frozen = request(**{"pod-with-eip": "true", "eip-bandwidth": "5"})
    assert changed_suffixes(frozen, frozen) == []
    edited = request(**{"pod-with-eip": "true", "eip-bandwidth": "10", "eip-name": "x"})
    assert changed_suffixes(frozen, edited) == [c.EIP_BANDWIDTH, c.EIP_NAME]
    ttl = request(**{"pod-with-eip": "true", "eip-bandwidth": "5", "pod-eip-release-strategy": "10m"})
    assert changed_suffixes(frozen, ttl) == [c.RELEASE_STRATEGY]  # strategy, after and ttl: one key
    static = request(**{"pod-eip-instanceid": "eip-abc"})
    assert changed_suffixes(frozen, static)[:2] == [c.POD_WITH_EIP, c.POD_EIP_INSTANCE_ID]
