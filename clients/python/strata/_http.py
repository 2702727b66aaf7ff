"""HTTP/1.1 to one server over keep-alive connections (one per thread), standard library only."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any, Dict, Optional, Tuple
from urllib.parse import quote, urlencode, urlsplit

from .errors import StrataError, error_of


def enc(name: Any) -> str:
    """A path segment."""
    return quote(str(name), safe="")


def query(params: Optional[Dict[str, Any]]) -> str:
    """``?k=v&...`` of the parameters that are not None, or ``""``."""
    if not params:
        return ""
    items = [(k, v) for k, v in params.items() if v is not None]
    return "?" + urlencode(items) if items else ""


class Http:
    """Requests to one server: JSON control bodies, raw payloads read into caller buffers."""

    def __init__(self, url: str, token: Optional[str] = None, timeout: Optional[float] = None):
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"Expected an http:// or https:// URL, found '{url}'")
        self.scheme = parts.scheme
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/") + "/v1"
        self.token = token
        self.timeout = timeout
        self._local = threading.local()

    def _conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def send(self, method: str, path: str, body: Any = None,
             headers: Optional[Dict[str, str]] = None,
             wait_s: float = 0.0) -> http.client.HTTPResponse:
        """Sends a request and returns the response with its body unread (errors raised).
        ``wait_s``: how long the request asks the server to wait before it answers, added to
        the socket's timeout for this request; a server silent past both raises
        ``unavailable``."""
        h = {"accept": "application/json"}
        if self.token is not None:
            h["authorization"] = f"Bearer {self.token}"
        if headers:
            h.update(headers)
        if body is not None and "content-length" not in h:
            h["content-length"] = str(memoryview(body).nbytes)
        elif body is None and method in ("POST", "PUT"):
            h["content-length"] = "0"
        limit = None if self.timeout is None else self.timeout + max(0.0, wait_s)
        for attempt in (0, 1):
            conn = self._conn(fresh=attempt > 0)
            conn.timeout = limit
            if conn.sock is not None:
                conn.sock.settimeout(limit)
            try:
                conn.request(method, self.prefix + path, body=body, headers=h)
                res = conn.getresponse()
                break
            except socket.timeout as e:
                self.close()
                raise self.silent(limit) from e
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                # A keep-alive connection the server closed meanwhile: once more on a new one.
                if attempt > 0:
                    raise
        if res.status >= 400:
            raise error_of(res.status, _error_body(res))
        return res

    def silent(self, limit: Optional[float]) -> StrataError:
        """The error of a server that sent nothing for ``limit`` seconds."""
        return StrataError(
            f"Server {self.scheme}://{self.host}:{self.port} did not answer within {limit:g} s: "
            "it may be stopped, overloaded or cut off; its log says which",
            code="unavailable", status=0)

    def read(self, res: http.client.HTTPResponse) -> bytes:
        """The rest of an answer's body; a server silent past the timeout raises
        ``unavailable``."""
        try:
            return res.read()
        except socket.timeout as e:
            self.close()
            raise self.silent(self.timeout) from e

    def json(self, method: str, path: str, body: Any = None, wait_s: float = 0.0) -> Any:
        """A control request: JSON body (when given) and JSON answer (None for 204);
        ``wait_s`` as ``send`` takes it."""
        payload = None
        headers = {}
        if body is not None:
            payload = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        res = self.send(method, path, payload, headers, wait_s)
        raw = self.read(res)
        if res.status == 204 or not raw:
            return None
        return json.loads(raw)

    def raw(self, method: str, path: str, body: Any, content_type: str) -> Any:
        """A request with a raw body (a payload, a function's source) and a JSON answer."""
        res = self.send(method, path, body, {"content-type": content_type})
        raw = self.read(res)
        return json.loads(raw) if raw else None


def _error_body(res: http.client.HTTPResponse) -> Any:
    """An error answer's body: JSON, or msgpack where the request asked for it (a service)."""
    raw = res.read()
    if (res.getheader("content-type") or "").startswith("application/msgpack"):
        try:
            import msgpack  # only the services' clients ask for msgpack, and they import it
            return msgpack.unpackb(raw, raw=False)
        except Exception:
            return raw.decode("utf-8", "replace")
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def read_into(res: http.client.HTTPResponse, buf: memoryview) -> None:
    """Reads the whole body into ``buf``, which must be exactly its length."""
    length = res.getheader("content-length")
    if length is not None and int(length) != buf.nbytes:
        res.read()
        raise StrataError(f"Expected a body of {buf.nbytes} bytes, the server sent {length}",
                          code="invalid_request", status=0)
    try:
        fill(res, buf, "The body")
    except socket.timeout as e:
        raise StrataError(f"The body of {buf.nbytes} bytes stalled: the server sent nothing more "
                          "within the client's timeout", code="unavailable", status=0) from e
    if res.read(1):
        raise StrataError(f"The body is longer than {buf.nbytes} bytes", code="invalid_request",
                          status=0)


def fill(res: http.client.HTTPResponse, buf: memoryview, what: str) -> None:
    """Reads exactly ``buf.nbytes`` bytes of ``res`` into ``buf``; ``what`` broke off
    (``unavailable``) when the answer ends first."""
    at = 0
    while at < buf.nbytes:
        n = res.readinto(buf[at:])
        if not n:
            raise StrataError(f"{what} broke off after {at} of {buf.nbytes} bytes",
                              code="unavailable", status=0)
        at += n


def headers_of(res: http.client.HTTPResponse) -> Tuple[int, Dict[str, Any]]:
    """The served version and the layout of an attach answer."""
    return int(res.getheader("strata-version", "0")), json.loads(res.getheader("strata-layout", "null"))
