"""The HTTP side of a service's Python client: operations called with msgpack bodies on
``POST /v1/services/<service>/<operation>``, the server's errors raised as their classes."""

from __future__ import annotations

from typing import Any, Dict, Optional

import msgpack

from ._http import Http

_MSGPACK = "application/msgpack"


class ServiceClient:
    """A connection to one service of a Strata server."""

    def __init__(self, url: str, service: str, *, token: Optional[str] = None,
                 timeout: Optional[float] = 60.0):
        self.url = url
        self.service = service
        self.http = Http(url, token=token, timeout=timeout)

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
