"""The HTTP side of a service's Python client: operations called with msgpack bodies on
``POST /v1/services/<service>/<operation>``, the server's errors raised as their classes."""

from __future__ import annotations

from typing import Any, BinaryIO, Callable, Dict, Optional

import msgpack

from ._http import Http
from .errors import StrataError

_MSGPACK = "application/msgpack"


#: Bodies from this size on are staged through the runtime's shm tier when they can be.
STAGE_FROM_BYTES = 8 << 20


class ServiceClient:
    """A connection to one service of a Strata server. ``stage`` (default True): write large
    bodies into a file on the runtime's shm tier when this process is on its node, instead of
    sending them (a single-runtime service only; otherwise, or when it fails, they are sent)."""

    def __init__(self, url: str, service: str, *, token: Optional[str] = None,
                 timeout: Optional[float] = 60.0, stage: bool = True):
        self.url = url
        self.service = service
        self.http = Http(url, token=token, timeout=timeout)
        self._stage = stage

    def close(self) -> None:
        """Closes this thread's connection."""
        self.http.close()

    def __enter__(self) -> "ServiceClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def info(self) -> Dict[str, Any]:
        """What ``GET /v1/services/<service>`` answers: the service's settings and placement."""
        return self.http.json("GET", f"/services/{self.service}")

    def call(self, operation: str, body: Dict[str, Any]) -> Any:
        """Calls an operation with a msgpack body; the server's errors raise their classes."""
        res = self.http.send("POST", f"/services/{self.service}/{operation}",
                             msgpack.packb(body, use_bin_type=True),
                             {"content-type": _MSGPACK, "accept": _MSGPACK})
        raw = res.read()
        return msgpack.unpackb(raw, raw=False) if raw else None

    def stage(self, byte_length: int, write: Callable[[BinaryIO], None]) -> Optional[str]:
        """Stages a body of ``byte_length`` bytes that ``write`` writes into an open file: the
        stage's id for an operation that takes it, or None when this client does not stage
        (too small, turned off, another node, no shm tier, several runtimes): send the body."""
        if not self._stage or byte_length < STAGE_FROM_BYTES:
            return None
        try:
            runtimes = self.info()["placement"]["runtimes"]
            if len(runtimes) != 1:
                raise OSError("several runtimes")
            st = self.http.json("POST", f"/services/{self.service}/stages", {"byteLength": byte_length})
        except (OSError, StrataError):
            self._stage = False
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
            self._stage = False
            try:
                self.http.send("DELETE", f"/services/{self.service}/stages/{st['stage']}").read()
            except (OSError, StrataError):
                pass
            return None
