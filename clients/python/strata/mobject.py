"""Mobject from Python, shaped as Ceph's ``rados`` module: an ``Ioctx`` per pool, write and
read op lists operated on one object, and the single-op shortcuts (``write``, ``read``,
``stat``, ``remove_object``, omap access), over the service's
``POST /v1/services/mobject/<operation>`` routes with msgpack bodies. An op that fails
raises the server's error class with ``errno`` (RADOS's, negated) and ``op`` (its index).
Needs ``msgpack`` (Debian: ``apt-get install python3-msgpack``).

>>> from strata import mobject
>>> io = mobject.Client("http://127.0.0.1:7070").open_ioctx("data")   # doctest: +SKIP
>>> io.write_full("obj", b"hello")                                     # doctest: +SKIP
>>> io.read("obj", 3, 1)                                               # doctest: +SKIP
b'ell'
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import msgpack

from ._frames import OCTET_STREAM, frame, unframe
from ._service import ServiceClient

#: RADOS's errno values the service answers with, negated.
ENOENT, EEXIST, EINVAL = -2, -17, -22


class WriteOp:
    """A write op list (``rados_write_op_t``): every op applies, or none."""

    def __init__(self) -> None:
        self.ops: List[Dict[str, Any]] = []

    def create(self, exclusive: bool = False) -> "WriteOp":
        """Creates the object; ``exclusive``: fail (EEXIST) when it exists."""
        self.ops.append({"op": "create", "exclusive": exclusive})
        return self

    def write(self, data: bytes, offset: int = 0) -> "WriteOp":
        """Writes ``data`` at ``offset``."""
        self.ops.append({"op": "write", "data": bytes(data), "offset": offset})
        return self

    def write_full(self, data: bytes) -> "WriteOp":
        """Replaces the object's bytes."""
        self.ops.append({"op": "write_full", "data": bytes(data)})
        return self

    def writesame(self, data: bytes, length: int, offset: int = 0) -> "WriteOp":
        """Writes ``data`` repeated over ``length`` bytes (a multiple of its size) at ``offset``."""
        self.ops.append({"op": "writesame", "data": bytes(data), "length": length, "offset": offset})
        return self

    def append(self, data: bytes) -> "WriteOp":
        """Appends ``data``."""
        self.ops.append({"op": "append", "data": bytes(data)})
        return self

    def remove(self) -> "WriteOp":
        """Removes the object (ENOENT when there is none)."""
        self.ops.append({"op": "remove"})
        return self

    def truncate(self, size: int) -> "WriteOp":
        """Sets the size: cut, or extended with zeros."""
        self.ops.append({"op": "truncate", "size": size})
        return self

    def zero(self, offset: int, length: int) -> "WriteOp":
        """Zeroes ``length`` bytes from ``offset``, never past the end."""
        self.ops.append({"op": "zero", "offset": offset, "length": length})
        return self

    def set_omap(self, keys: Iterable[str], values: Iterable[bytes]) -> "WriteOp":
        """Sets omap entries (``rados``'s ``set_omap``)."""
        self.ops.append({"op": "omap_set", "keys": list(keys), "values": [bytes(v) for v in values]})
        return self

    def remove_omap_keys(self, keys: Iterable[str]) -> "WriteOp":
        """Removes omap keys."""
        self.ops.append({"op": "omap_rm_keys", "keys": list(keys)})
        return self

    def clear_omap(self) -> "WriteOp":
        """Removes every omap key."""
        self.ops.append({"op": "omap_clear"})
        return self


class ReadOp:
    """A read op list (``rados_read_op_t``): one result per op, in order."""

    def __init__(self) -> None:
        self.ops: List[Dict[str, Any]] = []

    def stat(self) -> "ReadOp":
        """The object's size, mtime (ms since the epoch) and version."""
        self.ops.append({"op": "stat"})
        return self

    def read(self, offset: int, length: int) -> "ReadOp":
        """Up to ``length`` bytes from ``offset``."""
        self.ops.append({"op": "read", "offset": offset, "length": length})
        return self

    def get_omap_vals(self, start_after: str = "", prefix: str = "", max_return: int = 1000) -> "ReadOp":
        """Omap entries after ``start_after`` whose keys start with ``prefix``."""
        self.ops.append({"op": "omap_get_vals", "startAfter": start_after, "prefix": prefix,
                         "max": max_return})
        return self

    def get_omap_keys(self, start_after: str = "", max_return: int = 1000) -> "ReadOp":
        """Omap keys after ``start_after``."""
        self.ops.append({"op": "omap_get_keys", "startAfter": start_after, "max": max_return})
        return self

    def get_omap_vals_by_keys(self, keys: Iterable[str]) -> "ReadOp":
        """The omap entries of ``keys`` that exist."""
        self.ops.append({"op": "omap_get_vals_by_keys", "keys": list(keys)})
        return self


class Client(ServiceClient):
    """A connection to a Mobject service (``service``: its name in the server's config)."""

    def __init__(self, url: str, *, token: Optional[str] = None, timeout: Optional[float] = 60.0,
                 service: str = "mobject"):
        super().__init__(url, service, token=token, timeout=timeout)

    def open_ioctx(self, pool: str) -> "Ioctx":
        """The objects of ``pool`` (a namespace: pools need no creating)."""
        return Ioctx(self, pool)


class Ioctx:
    """The objects of one pool."""

    def __init__(self, client: Client, pool: str):
        self.client = client
        self.pool = pool

    def _runtime_of(self, key: str) -> int:
        # Each object's requests run in order on the runtime of its target: sent there straight.
        return self.client.runtime_of_key(f"{self.pool}/{key}".encode())

    def operate_write_op(self, op: WriteOp, key: str) -> Optional[Dict[str, Any]]:
        """Applies a write op list to object ``key``, all or nothing; its stat after (None once
        removed). The bytes written travel raw after a msgpack header, not inside msgpack."""
        parts: List[bytes] = []
        ops = []
        for o in op.ops:
            if "data" not in o:
                ops.append(o)
                continue
            parts.append(o["data"])
            ops.append({**{k: v for k, v in o.items() if k != "data"}, "part": len(parts) - 1})
        runtime = self._runtime_of(key)
        if not parts:
            body = {"pool": self.pool, "object": key, "ops": ops}
            return self.client.call("write_op", body, runtime)["stat"]
        pieces = frame({"pool": self.pool, "object": key, "ops": ops}, parts)
        _, raw = self.client.call_bytes("write_op_bytes", pieces, OCTET_STREAM, runtime)
        return msgpack.unpackb(raw, raw=False)["stat"]

    def operate_read_op(self, op: ReadOp, key: str) -> List[Any]:
        """Runs a read op list on object ``key``: one result per op (``NotFoundError``, errno
        ENOENT, when it does not exist). Reads answer bytes (raw parts of a framed answer), omap
        ops ``(entries, more)``."""
        body = msgpack.packb({"pool": self.pool, "object": key, "ops": op.ops}, use_bin_type=True)
        _, raw = self.client.call_bytes("read_op_bytes", [body], "application/msgpack",
                                        self._runtime_of(key),
                                        accept=f"{OCTET_STREAM}, application/msgpack")
        header, parts = unframe(raw)
        results = header["results"]
        out: List[Any] = []
        for spec, r in zip(op.ops, results):
            if spec["op"] == "read":
                part = parts[r["part"]] if "part" in r else None
                out.append(b"" if part is None else bytes(part))
            elif spec["op"] == "stat":
                out.append(r)
            elif "values" in r:
                out.append((dict(zip(r["keys"], (bytes(v) for v in r["values"]))), r["more"]))
            else:
                out.append((list(r["keys"]), r["more"]))
        return out

    def write(self, key: str, data: bytes, offset: int = 0) -> None:
        """Writes ``data`` at ``offset``."""
        self.operate_write_op(WriteOp().write(data, offset), key)

    def write_full(self, key: str, data: bytes) -> None:
        """Replaces the object's bytes."""
        self.operate_write_op(WriteOp().write_full(data), key)

    def append(self, key: str, data: bytes) -> None:
        """Appends ``data``."""
        self.operate_write_op(WriteOp().append(data), key)

    def read(self, key: str, length: int = 8192, offset: int = 0) -> bytes:
        """Up to ``length`` bytes from ``offset``."""
        return self.operate_read_op(ReadOp().read(offset, length), key)[0]

    def stat(self, key: str) -> Tuple[int, int]:
        """(size, mtime in ms since the epoch)."""
        s = self.operate_read_op(ReadOp().stat(), key)[0]
        return s["size"], s["mtime"]

    def trunc(self, key: str, size: int) -> None:
        """Sets the size."""
        self.operate_write_op(WriteOp().truncate(size), key)

    def remove_object(self, key: str) -> None:
        """Removes the object."""
        self.operate_write_op(WriteOp().remove(), key)

    def set_omap(self, key: str, entries: Mapping[str, bytes]) -> None:
        """Sets omap entries of the object."""
        self.operate_write_op(WriteOp().set_omap(entries.keys(), entries.values()), key)

    def get_omap_vals(self, key: str, start_after: str = "", prefix: str = "",
                      max_return: int = 1000) -> Tuple[Dict[str, bytes], bool]:
        """(entries, more) of the object's omap."""
        return self.operate_read_op(ReadOp().get_omap_vals(start_after, prefix, max_return), key)[0]

    def list_objects(self, after: Optional[str] = None, limit: int = 1000) -> List[str]:
        """Object names of the pool, in name order."""
        body: Dict[str, Any] = {"pool": self.pool, "limit": limit}
        if after is not None:
            body["after"] = after
        return list(self.client.call("list", body)["objects"])
