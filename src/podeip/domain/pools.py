"""EIP lists: a fixed set of existing EIPs for a workload's pods (pure).

``network.alibabacloud.com/pod-eip-instanceid-list`` (also under ``k8s.aliyun.com/``, and TKE's
``tke.cloud.tencent.com/eip-id-list``) holds a comma list of existing EIP IDs. Every entry is
Static: never released, never tagged, one holder at a time (the static-claim Leases decide).

- A pod with an ordinal (the number after the last ``-`` of its name, as StatefulSets name
  their pods, ``web-0``) takes the entry at that index, counted from 0, and nothing else:
  replica N keeps EIP N across restarts, which is what partners' allow-lists need. The ordinal
  is read only for StatefulSets, custom stateful kinds and bare pods; a Deployment's pod name
  ends in a random suffix that may be all digits, which must not pick an entry.
- A pod without an ordinal takes the first entry nobody holds, in list order; when all are held
  it waits (``EipListExhausted`` Warning, gate False) and looks again.
- A pod whose ordinal is beyond the list waits the same way: it never takes another entry.
- Blanks around the commas are separators (``eip-a, eip-b``); an empty entry (``eip-a,,eip-b``)
  or a repeated one is refused, since it would shift or double every later replica's EIP.
- ``pod-eip-instanceid`` wins over a list on the same pod (one EIP named outright).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from podeip.domain import parameters as p
from podeip.domain.stateful import is_stateful

#: More entries than any workload needs, and few enough that picking stays cheap.
MAX_ENTRIES = 256


@dataclass(frozen=True)
class EipList:
    """The list a pod reads, and where in it the pod belongs."""

    key: str
    entries: tuple[str, ...]
    #: The pod's ordinal (None: the pod takes the first free entry).
    ordinal: int | None

    @property
    def wanted(self) -> str | None:
        """The entry of this pod's ordinal; None without an ordinal or beyond the list."""
        if self.ordinal is None or self.ordinal >= len(self.entries):
            return None
        return self.entries[self.ordinal]

    @property
    def beyond(self) -> bool:
        return self.ordinal is not None and self.ordinal >= len(self.entries)


def parse_entries(text: str) -> tuple[str, ...]:
    """The entries of a list value, each an ``eip-`` ID; raises ``InvalidValue``."""
    allowed = f"a comma list of 1 to {MAX_ENTRIES} distinct EIP IDs, such as eip-aaa,eip-bbb (no empty entry)"
    if len(text) > MAX_ENTRIES * 66:
        raise p.InvalidValue(allowed)
    entries = tuple(item.strip(" ") for item in text.split(","))
    if not 1 <= len(entries) <= MAX_ENTRIES or "" in entries or len(set(entries)) != len(entries):
        raise p.InvalidValue(allowed)
    for entry in entries:
        try:
            p.parse_resource_id(entry, prefix="eip-")
        except p.InvalidValue as exc:
            raise p.InvalidValue(f"{allowed}; {entry[:70]!r} is not: {exc.allowed}") from None
    return entries


def ordinal_of(
    pod_name: str | None, *, owner_kind: str | None, custom_kinds: Collection[str] = ()
) -> int | None:
    """The replica number of a stateful (or bare) pod: ``web-2`` → 2; None otherwise."""
    if not pod_name or not is_stateful(owner_kind, custom_kinds=custom_kinds):
        return None
    _, dash, tail = pod_name.rpartition("-")
    if not dash or not tail.isascii() or not tail.isdigit() or (len(tail) > 1 and tail[0] == "0"):
        return None
    return int(tail) if len(tail) <= 9 else None
