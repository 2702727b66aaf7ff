"""Where a service's keys live: the hash and target ring of the server's service kit
(``src/services/hash.ts``, ``src/services/targets.ts``), byte for byte, so a client sends a
key's request to the runtime holding its target."""

from __future__ import annotations

from bisect import bisect_left
from typing import List, Sequence

_M32 = 0xFFFFFFFF


def mix32(h: int) -> int:
    """The MurmurHash3 finalizer on a 32-bit value."""
    h &= _M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


def hash32(data: bytes, seed: int = 0) -> int:
    """32-bit FNV-1a of ``data`` finished with ``mix32``: the server's ``hash32``."""
    h = (0x811C9DC5 ^ seed) & _M32
    for b in data:
        h ^= b
        h = (h * 0x01000193) & _M32
    return mix32(h)


class TargetRing:
    """``num_targets`` targets with ``virtual_nodes`` points each on a ring of 32-bit hashes;
    target ``t`` belongs to runtime ``runtimes[t % len(runtimes)]``."""

    def __init__(self, num_targets: int, virtual_nodes: int = 4,
                 runtimes: Sequence[str] = ("local",)):
        if num_targets < 1 or virtual_nodes < 1:
            raise ValueError(f"Invalid ring: {num_targets} targets, {virtual_nodes} virtual nodes")
        self.num_targets = num_targets
        self.virtual_nodes = virtual_nodes
        self.runtimes: List[str] = list(runtimes)
        points = sorted(
            (mix32((t * 0x9E3779B1 + v + 1) & _M32), t)
            for t in range(num_targets) for v in range(virtual_nodes)
        )
        self._points = [p for p, _ in points]
        self._owners = [t for _, t in points]

    def target_of(self, h: int) -> int:
        """The target owning 32-bit hash ``h``."""
        i = bisect_left(self._points, h & _M32)
        return self._owners[0 if i == len(self._points) else i]

    def runtime_of(self, target: int) -> int:
        """The index in ``runtimes`` of the runtime holding ``target``."""
        return target % len(self.runtimes)
