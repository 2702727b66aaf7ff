"""Same-node zero-copy attach: map a copy's file read-only under a lease the client renews.

The runtime answers ``POST .../map`` with the path of a file holding the
fragment's bytes in its layout (a copy in an shm tier) and a lease. The client
maps the file with ``numpy.memmap`` (mode ``r``): nothing is copied, and the
arrays it returns are read-only views of the runtime's copy. A daemon thread
renews the live leases every third of their length; a lease is released when
the last array over its mapping is garbage collected, when ``release()`` is
called, or when a stream moves to its next step. While a lease lives the
runtime neither spills the copy nor lets an overwrite or a free change the
bytes mapped.

Without renewal (``Leases(http, renew=False)``, a client made with
``renew=False``) no thread is started: a lease lasts its length (30 s unless
the runtime is configured otherwise) and no longer, and the leases whose
arrays were collected are released with the client's next mapping or its
close. That suits ranks that map, read and let go well within a lease's
length: a process with a second thread pays a TLB shootdown, an
inter-processor interrupt, for each page it unmaps or copies on write, and
16 single-threaded reader processes on two cores read their blocks 1.2 to
1.3 times as fast as the same processes with the renewal thread
(bench/restart_bench.ts).
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any, Dict, List, Optional

import numpy as np

from ._http import Http, enc
from .errors import NotFoundError, StrataError


class Leases:
    """The map leases of one client, renewed by a daemon thread (``renew``, the default) or
    left to last their length with no thread."""

    def __init__(self, http: Http, renew: bool = True):
        self._http = http
        self._renew = renew
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._live: Dict[str, Dict[str, float]] = {}
        self._ended: List[str] = []
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    def map(self, grant: Dict[str, Any]) -> np.memmap:
        """Maps a granted copy read-only; the lease ends when the mapping is collected."""
        self._flush()
        lease = str(grant["lease"])
        try:
            mm = np.memmap(grant["path"], dtype=np.uint8, mode="r", offset=int(grant["offset"]),
                           shape=(int(grant["byteLength"]),))
        except OSError:
            self.release(lease)
            raise
        ttl = float(grant["ttlMs"]) / 1000
        with self._lock:
            self._live[lease] = {"ttl": ttl, "renewed": time.monotonic()}
        mm._strata_lease = lease  # type: ignore[attr-defined]
        weakref.finalize(mm, self._collected, lease)
        self._start()
        return mm

    def map_all(self, lease: str, ttl_ms: float, files: List[Dict[str, Any]]) -> List[np.memmap]:
        """Maps the files one lease keeps (a map of parts) read-only; the lease ends when the
        last mapping is collected. Nothing stays mapped or leased when one file fails."""
        self._flush()
        maps: List[np.memmap] = []
        try:
            for f in files:
                maps.append(np.memmap(f["path"], dtype=np.uint8, mode="r", offset=int(f["offset"]),
                                      shape=(int(f["byteLength"]),)))
        except OSError:
            del maps
            self.release(lease)
            raise
        with self._lock:
            self._live[lease] = {"ttl": float(ttl_ms) / 1000, "renewed": time.monotonic(),
                                 "refs": len(maps)}
        for mm in maps:
            mm._strata_lease = lease  # type: ignore[attr-defined]
            weakref.finalize(mm, self._collected, lease)
        self._start()
        return maps

    def release(self, lease: str) -> bool:
        """Ends a lease now; returns whether it was live."""
        with self._lock:
            live = self._live.pop(lease, None) is not None
        try:
            self._http.json("DELETE", f"/leases/{enc(lease)}")
        except NotFoundError:
            pass
        return live

    def close(self) -> None:
        """Releases every live lease and stops the thread."""
        with self._lock:
            leases = list(self._live) + self._ended
            self._live.clear()
            self._ended = []
            self._closed = True
        self._wake.set()
        for lease in leases:
            try:
                self._http.json("DELETE", f"/leases/{enc(lease)}")
            except (StrataError, OSError):
                pass

    @property
    def live(self) -> int:
        """Leases held now."""
        with self._lock:
            return len(self._live)

    def _collected(self, lease: str) -> None:
        # Runs in the garbage collector: no request here, the thread sends it.
        with self._lock:
            live = self._live.get(lease)
            if live is not None:
                live["refs"] = live.get("refs", 1) - 1
                if live["refs"] <= 0:
                    del self._live[lease]
                    self._ended.append(lease)
        self._wake.set()

    def _flush(self) -> None:
        # Without the thread, leases whose arrays were collected are released here.
        if self._renew:
            return
        with self._lock:
            ended, self._ended = self._ended, []
        for lease in ended:
            try:
                self._http.json("DELETE", f"/leases/{enc(lease)}")
            except (StrataError, OSError):
                pass

    def _start(self) -> None:
        with self._lock:
            if not self._renew or self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="strata-leases", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                closed = self._closed
                ended, self._ended = self._ended, []
                now = time.monotonic()
                due = [lease for lease, s in self._live.items() if now - s["renewed"] >= s["ttl"] / 3]
                wait = min((s["ttl"] / 3 for s in self._live.values()), default=10.0)
            if closed:
                return
            for lease in ended:
                try:
                    self._http.json("DELETE", f"/leases/{enc(lease)}")
                except (StrataError, OSError):
                    pass
            for lease in due:
                try:
                    self._http.json("POST", f"/leases/{enc(lease)}/renew")
                    with self._lock:
                        if lease in self._live:
                            self._live[lease]["renewed"] = time.monotonic()
                except NotFoundError:
                    with self._lock:
                        self._live.pop(lease, None)
                except (StrataError, OSError):
                    pass
            self._wake.wait(timeout=max(0.05, wait))
            self._wake.clear()


def lease_of(data: Any) -> Optional[str]:
    """The lease of the mapping under an attached array (or dict of arrays), if mapped."""
    if isinstance(data, dict):
        for v in data.values():
            found = lease_of(v)
            if found is not None:
                return found
        return None
    a = data
    while a is not None:
        lease = getattr(a, "_strata_lease", None)
        if lease is not None:
            return lease
        a = getattr(a, "base", None)
    return None
