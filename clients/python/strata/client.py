"""The client of one Strata server."""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

import numpy as np

from ._http import Http, enc, fill, headers_of, query, read_into
from .errors import NotHereError, StrataError, TimeoutError, error_of
from .layout import Viewed, buffer_of, empty, view
from .mapping import Leases, lease_of

#: Longest wait one request asks of a server (what a server grants by default: an hour).
MAX_WAIT_PER_REQUEST_MS = 3_600_000
# A step stream silent this long (no step, no heartbeat: the runtime sends one at least every
# 15 s while a step is awaited) is taken as dead.
STEP_SILENCE_S = 30.0
#: How long an ``auto`` attach remembers that a fragment could not be mapped, in seconds.
UNMAPPABLE_FOR_S = 5.0

Version = Union[int, str]
Params = Optional[Dict[str, int]]


class MappedPart(NamedTuple):
    """A copy mapped in place by ``map_parts``: its fragment, bindings, stored layout, and
    read-only arrays over it (as ``view`` answers for its layout)."""

    fragment: str
    bindings: Dict[str, int]
    layout: Dict[str, Any]
    data: Viewed


class MappedParts(NamedTuple):
    """What ``map_parts`` answers: the committed version, the region's layout, the copies
    mapped here, and the copies it is gathered from that were not (each with its ``node``,
    ``fragment``, ``bindings`` and ``layout``), to map at their node or attach over HTTP."""

    version: int
    layout: Dict[str, Any]
    parts: List[MappedPart]
    unmapped: List[Dict[str, Any]]


def connect(url: Optional[str] = None, *, token: Optional[str] = None,
            timeout: Optional[float] = 300.0, map: Union[str, bool] = "auto",
            renew: bool = True) -> "Client":
    """Connects to a Strata server (default ``$STRATA_URL``, else ``http://127.0.0.1:7070``).

    ``map``: ``"auto"`` (default) attaches by mapping the runtime's shm copy when
    the server is on this machine and holds one, else over HTTP; ``True`` maps
    or raises ``NotHereError``; ``False`` always reads over HTTP. ``renew=False``
    starts no thread to renew map leases: each lasts its length (30 s by default), for
    single-threaded ranks that read and let go within it (``strata.mapping``). ``timeout``:
    seconds a request may go without a byte from the server (default 300; ``None``: no
    bound), a request that asks the server to wait (an attach's ``wait``) getting that wait
    on top; past it ``StrataError`` ``unavailable`` (a server stopped or cut off). No
    request is sent until a method is called.
    """
    return Client(url or os.environ.get("STRATA_URL") or "http://127.0.0.1:7070",
                  token=token, timeout=timeout, map=map, renew=renew)


class Client:
    """Datasets, versions, fragments, functions and pipelines of one server."""

    def __init__(self, url: str, *, token: Optional[str] = None, timeout: Optional[float] = 300.0,
                 map: Union[str, bool] = "auto", renew: bool = True):
        if map not in ("auto", True, False):
            raise ValueError(f"map must be 'auto', True or False, found {map!r}")
        self.url = url
        self.http = Http(url, token=token, timeout=timeout)
        self.map_mode = map
        self.leases = Leases(self.http, renew)
        self._layouts: Dict[Tuple[str, str, Tuple[Tuple[str, int], ...]], Dict[str, Any]] = {}
        self._unmappable: Dict[Tuple[str, str], float] = {}
        self._local = self.http.host in ("127.0.0.1", "localhost", "::1") or \
            self.http.host in (socket.gethostname(), socket.getfqdn())

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Releases the client's map leases and closes its connection."""
        self.leases.close()
        self.http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def health(self) -> Dict[str, Any]:
        """``{"status": "ok", "version": ...}``."""
        return self.http.json("GET", "/health")

    # -- datasets ------------------------------------------------------------------------------

    def create_dataset(self, name: str, description: Union[str, Dict[str, Any]], *,
                       retention: Optional[int] = None, durable: Optional[bool] = None,
                       overwrite: Optional[bool] = None, sizes: Params = None,
                       consumers: Optional[List[str]] = None) -> Dict[str, Any]:
        """Registers a dataset from its description (text in the data language, or its JSON form)."""
        body: Dict[str, Any] = {"name": name}
        body["description" if isinstance(description, str) else "descriptionJson"] = description
        for k, v in (("retention", retention), ("durable", durable), ("overwrite", overwrite),
                     ("sizes", sizes), ("consumers", consumers)):
            if v is not None:
                body[k] = v
        return self.http.json("POST", "/datasets", body)

    def datasets(self, *, after: Optional[str] = None,
                 limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """The datasets by name, each with its latest version and retention, after the name
        ``after`` when given: every one (asked page after page; the server answers at most 1,000
        a request by default), or, given ``limit`` (1 to 10,000), the first page of at most so
        many."""
        return self._listed("/datasets", "datasets", after, limit)

    def describe_dataset(self, name: str) -> Dict[str, Any]:
        """A dataset's description, fragments, settings and versions."""
        return self.http.json("GET", f"/datasets/{enc(name)}")

    def delete_dataset(self, name: str, *, force: bool = False) -> None:
        """Deletes a dataset with its versions and bytes (``force``: even while a pipeline reads it)."""
        self.http.json("DELETE", f"/datasets/{enc(name)}" + ("?force=true" if force else ""))

    def versions(self, dataset: str, *, after: Optional[int] = None,
                 limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """Versions with their states (``open``, ``committed``, ``retired``), oldest first, above
        ``after`` when given: every one (asked page after page), or, given ``limit`` (1 to
        10,000), the first page of at most so many."""
        return self._listed(f"/datasets/{enc(dataset)}/versions", "versions", after, limit)

    def _listed(self, path: str, field: str, after: Any, limit: Optional[int]) -> List[Dict[str, Any]]:
        # A list answered a page at a time: the first page, or every page from ``after``.
        def page(since: Any, n: Optional[int]) -> Dict[str, Any]:
            return self.http.json("GET", f"{path}{query({'after': since, 'limit': n})}")
        if limit is not None:
            return page(after, limit)[field]
        out: List[Dict[str, Any]] = []
        while True:
            got = page(after, None)
            out.extend(got[field])
            if got.get("next") is None:
                return out
            after = got["next"]

    def layout(self, dataset: str, fragment: str = "dataset", params: Params = None) -> Dict[str, Any]:
        """The layout of a fragment region, as ``POST /v1/describe`` computes it (cached)."""
        key = (dataset, fragment, tuple(sorted((params or {}).items())))
        found = self._layouts.get(key)
        if found is None:
            d = self.describe_dataset(dataset)
            bindings = {**(d.get("sizes") or {}), **(params or {})}
            res = self.http.send("POST", "/describe" + query(bindings),
                                 str(d["description"]).encode(), {"content-type": "text/plain"})
            described = json.loads(res.read())
            found = described["layout"] if fragment == "dataset" else described["fragments"][fragment]
            if found is None or "slots" not in found:
                raise StrataError(f"Fragment '{fragment}' of '{dataset}' needs its parameters bound: "
                                  f"{found.get('params') if isinstance(found, dict) else found}",
                                  code="invalid_layout", status=400)
            self._layouts[key] = found
        return found

    def empty(self, dataset: str, fragment: str = "dataset", params: Params = None) -> Viewed:
        """A zeroed buffer in a fragment's layout, as numpy views: fill it and publish it,
        or attach into it again and again."""
        return empty(self.layout(dataset, fragment, params))

    # -- publish and commit --------------------------------------------------------------------

    def publish(self, dataset: str, version: int, fragment: str, data: Any, *,
                params: Params = None, via: str = "body") -> Dict[str, Any]:
        """Publishes one fragment region of a version: ``data`` is a numpy array, bytes, any
        buffer, or the views ``empty()`` made, exactly the fragment's bytes in its layout.
        Returns the copy's record with ``committed`` (this publish completed the version).

        ``via``: ``"body"`` (default) sends the bytes in the request body; ``"shm"`` (a
        process on the runtime's node) writes them into a file the runtime stages on its shm
        tier and has the runtime publish that file (``POST .../stage``, then
        ``POST /v1/stages/:stage``), falling back to the body when the runtime cannot stage
        them (``not_here``)."""
        if via not in ("body", "shm"):
            raise ValueError(f"via must be 'body' or 'shm', found {via!r}")
        body = buffer_of(data)
        path = f"/datasets/{enc(dataset)}/versions/{int(version)}/fragments/{enc(fragment)}"
        if via == "shm":
            try:
                stage = self.http.json("POST", f"{path}/stage{query(params)}")
            except NotHereError:
                stage = None
            if stage is not None:
                return self._publish_staged(stage, fragment, body)
        return self.http.raw("PUT", path + query(params), body, "application/octet-stream")

    def _publish_staged(self, stage: Dict[str, Any], fragment: str,
                        body: memoryview) -> Dict[str, Any]:
        """Writes ``body`` into a staged file, then asks for its publish (abandoned on failure)."""
        try:
            if int(stage["byteLength"]) != body.nbytes:
                raise ValueError(f"Cannot publish fragment '{fragment}': expected "
                                 f"{stage['byteLength']} bytes, received {body.nbytes}")
            fd = os.open(stage["path"], os.O_WRONLY)
            try:
                done = 0
                while done < body.nbytes:
                    done += os.pwrite(fd, body[done:], done)
            finally:
                os.close(fd)
        except BaseException:
            try:
                self.http.json("DELETE", f"/stages/{enc(stage['stage'])}")
            except (StrataError, OSError):
                pass
            raise
        return self.http.json("POST", f"/stages/{enc(stage['stage'])}")

    def commit(self, dataset: str, version: int) -> Dict[str, Any]:
        """Commits a version explicitly; returns ``{version, retired}``."""
        return self.http.json("POST", f"/datasets/{enc(dataset)}/versions/{int(version)}/commit", {})

    def flush(self, dataset: str, version: int, *, tier: Optional[str] = None) -> Dict[str, Any]:
        """Writes a version's copies to the backing tier (or ``tier``): it survives restarts."""
        return self.http.json("POST", f"/datasets/{enc(dataset)}/versions/{int(version)}/flush"
                              + query({"tier": tier}))

    def nodes(self) -> List[Dict[str, Any]]:
        """Nodes with their tiers' capacity, usage and copies."""
        return self.http.json("GET", "/nodes")["nodes"]

    def batch(self, ops: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Many registry operations in one request, each with its own result."""
        return self.http.json("POST", "/batch", {"ops": ops})["results"]

    # -- attach --------------------------------------------------------------------------------

    def attach(self, dataset: str, fragment: str = "dataset", *, version: Version = "latest",
               params: Params = None, wait: Optional[float] = None, into: Any = None,
               map: Optional[Union[str, bool]] = None, with_version: bool = False) -> Any:
        """Attaches a fragment region of a committed version as numpy views of its layout:
        an N-D array (structured for structs), a dict of columns (columnar fragments),
        or a dict by slot name (several variables).

        ``version``: a number or ``"latest"``; ``wait``: seconds to wait for it (or, with
        ``latest``, any version) to be committed, else ``NotCommittedError`` at once;
        ``into``: a buffer (array, bytearray, views of ``empty()``) of exactly the
        fragment's size, reused; ``map``: see ``connect()``. A mapped attach returns
        read-only arrays over the runtime's copy. ``with_version``: return
        ``(version, arrays)``.
        """
        mode = self.map_mode if map is None else map
        if mode not in ("auto", True, False):
            raise ValueError(f"map must be 'auto', True or False, found {map!r}")
        wait_ms = None if wait is None else max(0, int(wait * 1000))
        deadline = None if wait_ms is None else time.monotonic() + wait_ms / 1000
        while True:
            slice_ms = wait_ms
            if deadline is not None:
                slice_ms = min(MAX_WAIT_PER_REQUEST_MS, max(0, int((deadline - time.monotonic()) * 1000)))
            try:
                v, arrays = self._attach_once(dataset, fragment, version, params, slice_ms, into, mode)
                return (v, arrays) if with_version else arrays
            except TimeoutError:
                if deadline is None or time.monotonic() >= deadline:
                    raise

    def _attach_once(self, dataset: str, fragment: str, version: Version, params: Params,
                     wait_ms: Optional[int], into: Any, mode: Union[str, bool]) -> Tuple[int, Viewed]:
        if mode is True or (mode == "auto" and self._local and self._mappable(dataset, fragment)):
            try:
                return self._map(dataset, fragment, version, params, wait_ms, into)
            except NotHereError:
                if mode is True:
                    raise
                self._unmappable[(dataset, fragment)] = time.monotonic() + UNMAPPABLE_FOR_S
            except _Unmapped:
                # The file is not reachable from here (another machine of the same name).
                if mode is True:
                    raise
                self._local = False
        q: Dict[str, Any] = dict(params or {})
        q["wait"] = wait_ms
        path = f"/datasets/{enc(dataset)}/versions/{version}/fragments/{enc(fragment)}{query(q)}"
        res = self.http.send("GET", path, wait_s=(wait_ms or 0) / 1000)
        v, layout = headers_of(res)
        size = int(layout["byteLength"])
        buf = np.empty(size, np.uint8) if into is None else buffer_of(into, size)
        try:
            read_into(res, memoryview(buf).cast("B") if isinstance(buf, np.ndarray) else buf)
        except BaseException:
            self.http.close()
            raise
        return v, view(layout, buf)

    def _mappable(self, dataset: str, fragment: str) -> bool:
        until = self._unmappable.get((dataset, fragment))
        return until is None or time.monotonic() >= until

    def _map(self, dataset: str, fragment: str, version: Version, params: Params,
             wait_ms: Optional[int], into: Any) -> Tuple[int, Viewed]:
        q: Dict[str, Any] = dict(params or {})
        q["wait"] = wait_ms
        grant = self.http.json(
            "POST",
            f"/datasets/{enc(dataset)}/versions/{version}/fragments/{enc(fragment)}/map{query(q)}",
            wait_s=(wait_ms or 0) / 1000,
        )
        try:
            mm = self.leases.map(grant)
        except OSError as e:
            raise _Unmapped(f"Cannot map '{grant.get('path')}': {e}", code="not_here",
                            status=0) from e
        layout = grant["layout"]
        if into is None:
            return int(grant["version"]), view(layout, mm)
        try:
            out = buffer_of(into, int(layout["byteLength"]))
            out[:] = memoryview(mm).cast("B")
        finally:
            self.leases.release(grant["lease"])
        return int(grant["version"]), view(layout, out)

    def map_parts(self, dataset: str, fragment: str = "dataset", *, version: Version = "latest",
                  params: Params = None, wait: Optional[float] = None) -> MappedParts:
        """Maps, in one request, every copy a fragment region is gathered from that the
        server's node holds in an shm tier: each read-only in its stored layout, copying
        nothing, all under one lease (ended when the arrays of every part are collected, or
        with ``release`` of any of them). The caller reads the region from the parts in
        place; ``unmapped``
        lists the copies held elsewhere. ``NotHereError`` when a granted file cannot be
        mapped from this process (another machine)."""
        q: Dict[str, Any] = dict(params or {})
        q["wait"] = None if wait is None else max(0, int(wait * 1000))
        answer = self.http.json(
            "POST",
            f"/datasets/{enc(dataset)}/versions/{version}/fragments/{enc(fragment)}/parts{query(q)}",
            wait_s=(q["wait"] or 0) / 1000,
        )
        files = answer["parts"]
        maps: List[Any] = []
        if files:
            try:
                maps = self.leases.map_all(answer["lease"], answer["ttlMs"], files)
            except OSError as e:
                raise _Unmapped(f"Cannot map the parts of '{fragment}': {e}", code="not_here",
                                status=0) from e
        parts = [MappedPart(f["fragment"], dict(f["bindings"]), f["layout"], view(f["layout"], mm))
                 for f, mm in zip(files, maps)]
        return MappedParts(int(answer["version"]), answer["layout"], parts, answer["unmapped"])

    def release(self, arrays: Any) -> bool:
        """Ends the map lease under attached arrays now (they stay readable until collected;
        the runtime may then spill or free its copy). Returns whether one was live."""
        lease = lease_of(arrays)
        return False if lease is None else self.leases.release(lease)

    def wait(self, dataset: str, version: int = 1, *, timeout: Optional[float] = None,
             poll: float = 0.02) -> int:
        """Waits until a version at or above ``version`` is committed; returns the newest one.
        ``TimeoutError`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            committed = [int(v["version"]) for v in self.versions(dataset, after=version - 1)
                         if v.get("state") == "committed" and int(v["version"]) >= version]
            if committed:
                return max(committed)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"No version >= {version} of '{dataset}' was committed within "
                                   f"{timeout} s", status=408)
            time.sleep(poll)

    def stream(self, dataset: str, fragment: str = "dataset", *, params: Params = None,
               start: Optional[int] = None, timeout: Optional[float] = 60.0,
               steps: Optional[int] = None, into: Any = None,
               map: Optional[Union[str, bool]] = None, ahead: Optional[int] = None,
               limit: Optional[int] = None, policy: Optional[str] = None,
               group: Optional[str] = None, assign: Optional[str] = None) -> "Stream":
        """The versions of a dataset as steps, as ADIOS2's Python Stream reads steps:
        ``for version, arrays in client.stream("particles", "xyz"): ...``. Each step waits
        for the next committed version (``start``: the first, default the latest);
        the stream ends after ``steps`` steps, or when no version comes within
        ``timeout`` seconds (None: waits forever).

        With ``ahead`` (1 to 16), the runtime subscribes to the dataset's commits and
        fetches ``ahead`` versions while this process works on one, all over one
        streamed response (``GET .../steps``): no request per step. ``limit``,
        ``policy`` (``drop-oldest``, ``fail`` or ``block``), ``group`` and ``assign``
        shape the subscription's queue at the name server (docs/nodes.md). Such a
        stream copies each step into ``into`` (or a new buffer); it never maps."""
        return Stream(self, dataset, fragment, params=params, start=start, timeout=timeout,
                      steps=steps, into=into, map=map, ahead=ahead,
                      subscription={"limit": limit, "policy": policy, "group": group,
                                    "assign": assign})

    # -- functions and pipelines ---------------------------------------------------------------

    def deploy(self, name: str, source: str, *, limits: Optional[Dict[str, int]] = None,
               aliases: Optional[List[str]] = None) -> Dict[str, Any]:
        """Deploys a new version of a function from its TypeScript source."""
        body: Dict[str, Any] = {"source": source}
        if limits is not None:
            body["limits"] = limits
        if aliases is not None:
            body["aliases"] = list(aliases)
        return self.http.json("PUT", f"/functions/{enc(name)}", body)

    def functions(self) -> List[Dict[str, Any]]:
        """Every function with its newest version and aliases."""
        return self.http.json("GET", "/functions")["functions"]

    def describe_function(self, name: str) -> Dict[str, Any]:
        """A function's versions and aliases."""
        return self.http.json("GET", f"/functions/{enc(name)}")

    def function_version(self, name: str, version: int) -> Dict[str, Any]:
        """One version of a function, with its source."""
        return self.http.json("GET", f"/functions/{enc(name)}/versions/{int(version)}")

    def delete_function(self, name: str, version: Optional[int] = None) -> None:
        """Deletes a function, or one version of it that no alias points at."""
        path = f"/functions/{enc(name)}" + ("" if version is None else f"/versions/{int(version)}")
        self.http.json("DELETE", path)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Points an alias at a version (a rollback points it back)."""
        self.http.json("PUT", f"/functions/{enc(name)}/aliases/{enc(alias)}", {"version": version})

    def delete_alias(self, name: str, alias: str) -> None:
        """Removes an alias."""
        self.http.json("DELETE", f"/functions/{enc(name)}/aliases/{enc(alias)}")

    def invoke(self, name: str, dataset: str, *, version: Optional[Version] = None,
               params: Params = None, each: Optional[bool] = None, args: Any = None,
               use: Optional[Union[str, int]] = None, wait: Optional[float] = None) -> Dict[str, Any]:
        """Runs a function on stored data. A value comes back as ``{"value", "function",
        "source", "calls", "logs"}``; a dataset output adds ``"arrays"`` (numpy views of its
        bytes) and ``"layout"``."""
        body: Dict[str, Any] = {"dataset": dataset}
        for k, v in (("version", version), ("params", params), ("each", each), ("args", args),
                     ("use", use)):
            if v is not None:
                body[k] = v
        if wait is not None:
            body["wait"] = int(wait * 1000)
        res = self.http.send("POST", f"/functions/{enc(name)}/invoke", json.dumps(body).encode(),
                             {"content-type": "application/json"}, wait_s=wait or 0)
        if (res.getheader("content-type") or "").startswith("application/octet-stream"):
            meta = json.loads(res.getheader("strata-function") or "{}")
            layout = json.loads(res.getheader("strata-layout") or "null")
            buf = np.empty(int(layout["byteLength"]), np.uint8)
            read_into(res, memoryview(buf))
            return {**meta, "layout": layout, "arrays": view(layout, buf)}
        return json.loads(res.read())

    def put_pipeline(self, name: str, source: str, function: str, **spec: Any) -> Dict[str, Any]:
        """Creates or replaces a pipeline: ``function`` runs on each committed version of
        ``source`` (``use``, ``output``, ``args``, ``placement``, ``retries``, ... as keywords)."""
        body = {"source": source, "function": function}
        body.update({k: v for k, v in spec.items() if v is not None})
        return self.http.json("PUT", f"/pipelines/{enc(name)}", body)

    def pipeline(self, name: str) -> Dict[str, Any]:
        """A pipeline with its queue and newest runs."""
        return self.http.json("GET", f"/pipelines/{enc(name)}")

    def pipelines(self) -> List[Dict[str, Any]]:
        """Every pipeline."""
        return self.http.json("GET", "/pipelines")["pipelines"]

    def delete_pipeline(self, name: str) -> None:
        """Deletes a pipeline."""
        self.http.json("DELETE", f"/pipelines/{enc(name)}")

    def result(self, name: str, version: Version = "latest") -> Dict[str, Any]:
        """A value pipeline's merged result for a version, with its lineage."""
        return self.http.json("GET", f"/pipelines/{enc(name)}/results/{version}")

    def lineage(self, dataset: str, version: int) -> Dict[str, Any]:
        """Where a derived dataset's version came from."""
        return self.http.json("GET", f"/datasets/{enc(dataset)}/versions/{int(version)}/lineage")


class _Unmapped(NotHereError):
    """A granted copy's file could not be mapped by this process."""


class Stream:
    """Steps of a dataset: an iterator of ``(version, arrays)``; see ``Client.stream()``."""

    def __init__(self, client: Client, dataset: str, fragment: str, *, params: Params,
                 start: Optional[int], timeout: Optional[float], steps: Optional[int], into: Any,
                 map: Optional[Union[str, bool]], ahead: Optional[int] = None,
                 subscription: Optional[Dict[str, Any]] = None):
        if ahead is not None and (not isinstance(ahead, int) or not 1 <= ahead <= 16):
            raise ValueError(f"ahead must be an integer from 1 to 16, found {ahead!r}")
        self.client = client
        self.dataset = dataset
        self.fragment = fragment
        self.params = params
        self.next: Version = "latest" if start is None else int(start)
        self.timeout = timeout
        self.remaining = steps
        self.into = into
        self.map = map
        self.ahead = ahead
        self.subscription = {k: v for k, v in (subscription or {}).items() if v is not None}
        self.version: Optional[int] = None
        self._current: Any = None
        self._steps: Any = None
        self._steps_http: Optional[Http] = None

    def __iter__(self) -> Iterator[Tuple[int, Viewed]]:
        return self

    def __next__(self) -> Tuple[int, Viewed]:
        self._end_step()
        if self.remaining is not None and self.remaining <= 0:
            self.close()
            raise StopIteration
        if self.ahead is not None:
            v, arrays = self._next_pushed()
        else:
            # No limit: ask again and again, an hour per request.
            wait = self.timeout if self.timeout is not None else 10 * 365 * 86400.0
            try:
                v, arrays = self.client.attach(self.dataset, self.fragment, version=self.next,
                                               params=self.params, wait=wait, into=self.into,
                                               map=self.map, with_version=True)
            except TimeoutError:
                raise StopIteration from None
        self.version = v
        self.next = v + 1
        if self.remaining is not None:
            self.remaining -= 1
        self._current = arrays
        return v, arrays

    def open(self) -> "Stream":
        """Opens a pushed stream (``ahead``) now rather than at the first step: the runtime
        subscribes, and a consumer group counts this member from then on. Does nothing for a
        stream of a request per step."""
        if self.ahead is not None and self._steps is None:
            self._open_steps()
        return self

    def _next_pushed(self) -> Tuple[int, Viewed]:
        """The next frame of the runtime's step stream, opened on the first call."""
        if self._steps is None:
            self._open_steps()
        res = self._steps
        try:
            header = _next_header(res)
            # Sent while the runtime waits for the next version: the stream is alive.
            while header.get("heartbeat") is True:
                header = _next_header(res)
            if "error" in header:
                self.close()
                e = error_of(200, {"error": header["error"]})
                if e.code == "timeout":
                    raise StopIteration
                raise e
            layout = header["layout"]
            size = int(header.get("bytes", 0))
            if size != int(layout["byteLength"]):
                raise StrataError(f"The step stream sent {size} bytes for a layout of "
                                  f"{layout['byteLength']}", code="unavailable", status=0)
            buf = np.empty(size, np.uint8) if self.into is None else buffer_of(self.into, size)
            fill(res, memoryview(buf).cast("B") if isinstance(buf, np.ndarray) else buf,
                 "The step stream")
        except StopIteration:
            raise
        except socket.timeout as e:
            self.close()
            raise StrataError(
                f"The runtime sent nothing on the step stream for {STEP_SILENCE_S:g} s (not even "
                "a heartbeat): it may be stopped or cut off", code="unavailable", status=0) from e
        except BaseException:
            # Whatever broke off mid-frame, the stream cannot go on: its connection goes.
            self.close()
            raise
        return int(header["version"]), view(layout, buf)

    def _open_steps(self) -> None:
        start = self.next
        if start == "latest":
            latest = self.client.describe_dataset(self.dataset).get("latest")
            start = int(latest) if isinstance(latest, int) and latest > 0 else 1
        q: Dict[str, Any] = dict(self.params or {})
        q.update(self.subscription)
        q["from"] = start
        q["ahead"] = self.ahead
        # The server's longest wait is an hour; no timeout asks for that much.
        wait_s = self.timeout if self.timeout is not None else 3600.0
        q["wait"] = int(wait_s * 1000)
        base = self.client.http
        # A connection of its own, held for the stream's life. The runtime sends a heartbeat
        # at least every 15 s while a step is awaited, so a socket silent for STEP_SILENCE_S is dead.
        self._steps_http = Http(self.client.url, token=base.token, timeout=STEP_SILENCE_S)
        path = f"/datasets/{enc(self.dataset)}/fragments/{enc(self.fragment)}/steps{query(q)}"
        self._steps = self._steps_http.send("GET", path)

    def _end_step(self) -> None:
        # The step's arrays stay readable (the mapping holds the pages); the runtime may
        # now spill or free its copy.
        if self._current is not None:
            if self.ahead is None:
                self.client.release(self._current)
            self._current = None

    def close(self) -> None:
        """Ends the current step's lease, and the runtime's step stream."""
        self._end_step()
        if self._steps_http is not None:
            self._steps_http.close()
            self._steps_http = None
            self._steps = None

    def __del__(self) -> None:
        # A loop left with `break` drops the stream: its connection goes with it.
        try:
            if self._steps_http is not None:
                self._steps_http.close()
        except Exception:
            pass

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _next_header(res: Any) -> Dict[str, Any]:
    """The JSON header of a step stream's next frame."""
    (n,) = struct.unpack(">I", _read_exact(res, 4))
    if n > 1 << 20:
        raise StrataError(f"The step stream sent a frame header of {n} bytes",
                          code="unavailable", status=0)
    header: Dict[str, Any] = json.loads(_read_exact(res, n))
    return header


def _read_exact(res: Any, n: int) -> bytes:
    """Exactly ``n`` bytes of a step stream; the stream breaking off is ``unavailable``."""
    buf = bytearray(n)
    fill(res, memoryview(buf), "The step stream")
    return bytes(buf)
