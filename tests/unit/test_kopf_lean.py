"""We test what ``podeip run`` spares kopf (``podeip.controllers.lean``): no memory kept per object
seen and no essence built per event, and that this rests on the operator registering event
handlers only (else kopf's own are used)."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from podeip.app import kopf_settings, kopf_setup
from podeip.controllers import handlers, lean
from podeip.settings import Settings


def pod(uid: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": uid, "namespace": "default", "uid": uid, "annotations": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"podIP": "10.0.0.1"},
    }


def test_the_operator_registers_event_handlers_only() -> None:
    for cascade in (False, True):
        registry = kopf.OperatorRegistry()
        handlers.register(registry, cascade=cascade)
        assert lean.fits(registry)

    @kopf.on.update("", "v1", "pods", registry=registry, id="changing")  # what would not fit
    async def on_update(**_: Any) -> None:
        return None

    assert not lean.fits(registry)


def test_no_memory_is_kept_per_object_seen() -> None:
    class Shared:
        def __copy__(self) -> Shared:
            return self  # as ``controllers.memo.Operator``

    memobase: Any = Shared()

    async def recall(memories: Any) -> list[Any]:
        return [await memories.recall(pod(f"uid-{n % 3}"), memobase=memobase) for n in range(6)]

    kopf_memories = lean.ResourceMemories()
    asyncio.run(recall(kopf_memories))
    assert len(list(kopf_memories.iter_all_memories())) == 3  # kopf's own: one per object, for good
    memories = lean.EventMemories()
    seen = asyncio.run(recall(memories))
    assert list(memories.iter_all_memories()) == []
    assert len({id(memory) for memory in seen}) == 6  # a fresh one for each event
    assert all(memory.memo is memobase for memory in seen)  # handlers get the one memo


def test_no_essence_is_built_or_stored() -> None:
    storage = lean.NoDiffBase()
    body = kopf.Body(pod("uid-1"))
    assert storage.build(body=body) == {}
    assert storage.fetch(body=body) == {}
    assert kopf.AnnotationsDiffBaseStorage().build(body=body) != {}  # what kopf builds otherwise


def test_kopf_is_set_up_lean_only_for_a_registry_of_event_handlers() -> None:
    """What ``app.run`` hands ``kopf.operator`` (``app.kopf_setup``): for the operator's registry
    the lean memories and diff base; for one that holds more, kopf's own (None: kopf builds its
    store) and our annotations' diff base."""
    settings = Settings(cloud={"provider": "simulated"})  # type: ignore[arg-type]
    registry = kopf.OperatorRegistry()
    handlers.register(registry)
    configured, memories = kopf_setup(settings, registry)
    assert isinstance(configured.persistence.diffbase_storage, lean.NoDiffBase)
    assert isinstance(memories, lean.EventMemories)

    @kopf.daemon("", "v1", "pods", registry=registry, id="spawning")  # what would not fit
    async def daemon(**_: Any) -> None:
        return None

    configured, memories = kopf_setup(settings, registry)
    assert memories is None
    other = configured.persistence.diffbase_storage
    assert isinstance(other, kopf.AnnotationsDiffBaseStorage)
    assert other.prefix == "podeip-controller.alibabacloud.com"
    assert not isinstance(kopf_settings(settings).persistence.diffbase_storage, lean.NoDiffBase)
