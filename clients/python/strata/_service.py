"""The HTTP side of a service's Python client: operations called with msgpack bodies on
``POST /v1/services/<service>/<operation>``, the server's errors raised as their classes."""

from __future__ import annotations

from typing import Any, BinaryIO, Callable, Dict, List, Optional, Sequence, Set, Tuple

import msgpack

from ._http import Http
from ._ring import TargetRing, hash32
from .errors import BusyError, NotFoundError, StrataError

_MSGPACK = "application/msgpack"


#: Bodies from this size on are staged through the runtime's shm tier when they can be.
STAGE_FROM_BYTES = 8 << 20

#: The header naming the stage whose file holds a request's raw body.
STAGE_HEADER = "strata-stage"


class ServiceClient:
    """A connection to one service of a Strata server. Requests for a key go to the runtime
    holding its target (the service's placement, read at the first such request), and to the
    server this client connected to when that runtime refuses the connection. ``stage``
    (default True): write large bodies into a file on the shm tier of the runtime that takes
    them when this process is on its node, instead of sending them (otherwise, or when it fails,
    they are sent)."""

    def __init__(self, url: str, service: str, *, token: Optional[str] = None,
                 timeout: Optional[float] = 60.0, stage: bool = True):
        self.url = url
        self.service = service
        self.http = Http(url, token=token, timeout=timeout)
        self._token = token
        self._timeout = timeout
        self._stage = stage
        self._ring: Optional[TargetRing] = None
        self._https: List[Http] = []
        # Runtimes (by index) whose node this process cannot stage bodies on.
        self._no_stage: Set[int] = set()
        # Runtimes (by index) whose leased files this process cannot read in place.
        self._no_read: Set[int] = set()
        self._runtimes_of: Dict[bytes, int] = {}

    def close(self) -> None:
        """Closes this thread's connections."""
        self.http.close()
        for h in self._https:
            if h is not self.http:
                h.close()

    def __enter__(self) -> "ServiceClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def info(self) -> Dict[str, Any]:
        """What ``GET /v1/services/<service>`` answers: the service's settings and placement."""
        return self.http.json("GET", f"/services/{self.service}")

    @property
    def ring(self) -> TargetRing:
        """The service's targets and the runtimes holding them (read once, at first use)."""
        if self._ring is None:
            p = self.info().get("placement") or {}
            runtimes = p.get("runtimes") or [{"name": "local", "url": None}]
            self._ring = TargetRing(int(p.get("numTargets", 1)), int(p.get("virtualNodes", 4)),
                                    [r["name"] for r in runtimes])
            self._https = [self.http if r.get("url") is None
                           else Http(r["url"], token=self._token, timeout=self._timeout)
                           for r in runtimes]
        return self._ring

    def runtime_of_key(self, key: bytes) -> int:
        """The runtime (index in the ring's order) holding the target ``key`` hashes to."""
        ring = self.ring
        if len(ring.runtimes) == 1:
            return 0
        # Hashing in Python costs about 10 µs a key, and keys repeat (a subrun's products).
        runtime = self._runtimes_of.get(key)
        if runtime is None:
            if len(self._runtimes_of) >= 4096:
                self._runtimes_of.clear()
            runtime = self._runtimes_of[key] = ring.runtime_of(ring.target_of(hash32(key)))
        return runtime

    def call(self, operation: str, body: Dict[str, Any], runtime: Optional[int] = None) -> Any:
        """Calls an operation with a msgpack body, on the runtime at index ``runtime`` of the
        ring when given (the server this client connected to when it refuses the connection);
        the server's errors raise their classes."""
        data = msgpack.packb(body, use_bin_type=True)
        res = self._post(operation, data, {"content-type": _MSGPACK, "accept": _MSGPACK}, runtime)
        raw = self.read(res, runtime)
        return msgpack.unpackb(raw, raw=False) if raw else None

    def call_bytes(self, operation: str, pieces: Sequence[Any], content_type: str,
                   runtime: Optional[int] = None,
                   accept: str = _MSGPACK) -> Tuple[str, bytes]:
        """Sends a raw body (``pieces`` one after the other, not joined) to an operation, on the
        runtime at index ``runtime`` when given (the connected server when it refuses the
        connection): the answer's content type and bytes; the server's errors raise."""
        headers = {"content-type": content_type, "accept": accept,
                   "content-length": str(sum(memoryview(p).nbytes for p in pieces))}
        res = self._post(operation, list(pieces), headers, runtime)
        return res.getheader("content-type") or "", self.read(res, runtime)

    def read(self, res: Any, runtime: Optional[int] = None) -> bytes:
        """An answer's body; a server silent past the timeout raises ``unavailable``."""
        return self._http_of(runtime).read(res)

    def _post(self, operation: str, body: Any, headers: Dict[str, str],
              runtime: Optional[int]) -> Any:
        http = self._http_of(runtime)
        path = f"/services/{self.service}/{operation}"
        try:
            return http.send("POST", path, body, headers)
        except ConnectionRefusedError:
            # Only a refused connection is tried again: the request never arrived.
            if http is self.http:
                raise
            return self.http.send("POST", path, body, headers)

    def _http_of(self, runtime: Optional[int]) -> Http:
        if runtime is None:
            return self.http
        self.ring  # noqa: B018 - reads the placement once
        return self._https[runtime] if 0 <= runtime < len(self._https) else self.http

    def reads_on(self, runtime: int) -> bool:
        """Whether this client reads leased files of the runtime at index ``runtime`` in place:
        it stages (``stage=True``) and reading them has not failed there."""
        return self._stage and runtime not in self._no_read

    def call_leasing(self, operation: str, body: Dict[str, Any], runtime: int) -> Any:
        """Calls an operation that leases files on the node of the runtime at index ``runtime``;
        None when every lease of that node is taken (``BusyError``): load over HTTP this time."""
        try:
            return self.call(operation, body, runtime)
        except BusyError:
            return None

    def read_leased(self, runtime: int, found: Sequence[Optional[Dict[str, Any]]]
                    ) -> Optional[Tuple[List[Optional[bytes]], List[int]]]:
        """Reads the values a runtime answered for reading in place (each ``None``, ``{bytes}``,
        ``{path, lease, at, size}`` for a range of a file leased on its node's shm tier, or
        ``{size}`` for one held elsewhere), then releases the leases: the values (None where none
        is stored or held elsewhere) and the indices of those held elsewhere, to load over HTTP.
        None when this process cannot read the files (another node, no permission): it stops
        reading in place there, as after an answer naming values held elsewhere and no file."""
        leases = {f["lease"] for f in found if f is not None and "lease" in f}
        held = any(f is not None and "bytes" not in f and "lease" not in f for f in found)
        if held and not leases:
            # Values held, none in files of its node (no shm tier, values in memory): over HTTP.
            self._no_read.add(runtime)
        try:
            out: List[Optional[bytes]] = [None] * len(found)
            elsewhere: List[int] = []
            files: Dict[str, Any] = {}
            try:
                for k, f in enumerate(found):
                    if f is None:
                        continue
                    if "bytes" in f:
                        out[k] = bytes(f["bytes"])
                    elif "path" not in f:
                        elsewhere.append(k)
                    else:
                        file = files.get(f["path"])
                        if file is None:
                            file = files[f["path"]] = open(f["path"], "rb")
                        file.seek(f["at"])
                        data = file.read(f["size"])
                        if len(data) != f["size"]:
                            raise FileNotFoundError(f["path"])
                        out[k] = data
            finally:
                for file in files.values():
                    file.close()
            return out, elsewhere
        except OSError:
            # The leased files are not this process's to read: over HTTP from now on.
            self._no_read.add(runtime)
            return None
        finally:
            http = self._http_of(runtime)
            for lease in leases:
                try:
                    http.send("DELETE", f"/leases/{lease}").read()
                except (NotFoundError, ConnectionRefusedError):
                    # Ended already, or a runtime that refuses connections (the connected
                    # server forwarded the request that took it): it ends at its deadline.
                    pass

    def stage(self, byte_length: int, write: Callable[[BinaryIO], None],
              runtime: Optional[int] = None) -> Optional[str]:
        """Stages a body of ``byte_length`` bytes that ``write`` writes into an open file, on the
        shm tier of the runtime at index ``runtime`` of the ring (default: the connected server):
        the stage's id for an operation sent to that runtime, or None when this client does not
        stage (too small, turned off, another node, no shm tier): send the body."""
        key = -1 if runtime is None else runtime
        if not self._stage or byte_length < STAGE_FROM_BYTES or key in self._no_stage:
            return None
        http = self._http_of(runtime)
        try:
            st = http.json("POST", f"/services/{self.service}/stages", {"byteLength": byte_length})
        except (OSError, StrataError):
            self._no_stage.add(key)
            return None
        try:
            # The file holds the stage's id until written: reading it back tells this node's
            # file from another node's at the same path.
            with open(st["path"], "rb") as f:
                if f.read(256) != st["stage"].encode():
                    raise OSError("another node's file")
            with open(st["path"], "wb") as f:
                write(f)
            return st["stage"]
        except OSError:
            self._no_stage.add(key)
            try:
                http.send("DELETE", f"/services/{self.service}/stages/{st['stage']}").read()
            except (OSError, StrataError):
                pass
            return None
