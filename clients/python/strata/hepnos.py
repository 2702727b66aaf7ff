"""HEPnOS from Python: datasets, runs, subruns, events and their products, as the
TypeScript client and HEPnOS's own API offer them, over the service's
``POST /v1/services/hepnos/<operation>`` routes with msgpack bodies.

Products written here and by the TypeScript client are the same bytes under the
same (label, type) keys: an array stored with ``store_array`` has the type name the
TypeScript client's ``storeArray`` gives it (``Float64Array`` for float64, ...), so
either side loads what the other stored.

Needs ``msgpack`` (Debian: ``apt-get install python3-msgpack``).

>>> from strata import hepnos
>>> store = hepnos.DataStore.connect("http://127.0.0.1:7070")  # doctest: +SKIP
>>> run = store.root.create_dataset("nova").create_run(1)        # doctest: +SKIP
>>> event = run.create_subrun(0).create_event(42)                # doctest: +SKIP
>>> event.store_array("hits", numpy.arange(4.0))                 # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import struct
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import msgpack

from ._frames import OCTET_STREAM, frame
from ._service import _MSGPACK, STAGE_FROM_BYTES, STAGE_HEADER, ServiceClient
from .errors import NotFoundError


def _view(value: Any) -> memoryview:
    """A value's bytes as a flat view, without a copy when it has a contiguous buffer."""
    try:
        return memoryview(value).cast("B")
    except (TypeError, ValueError):
        return memoryview(bytes(value))

#: The number that marks an absent level (HEPnOS's ``Invalid*Number``).
INVALID = (1 << 64) - 1
#: Items and datasets asked for per request while iterating.
PAGE = 1000

# numpy dtypes and the TypeScript typed arrays of the same elements: the type
# names of array products, so both clients read each other's arrays.
_ARRAY_TYPES = {
    "int8": "Int8Array", "uint8": "Uint8Array", "int16": "Int16Array", "uint16": "Uint16Array",
    "int32": "Int32Array", "uint32": "Uint32Array", "float32": "Float32Array",
    "float64": "Float64Array", "int64": "BigInt64Array", "uint64": "BigUint64Array",
}


def array_type(dtype: Any) -> str:
    """The product type name of arrays of ``dtype`` (``Float64Array`` for float64, ...)."""
    import numpy as np
    dt = np.dtype(dtype)
    name = _ARRAY_TYPES.get(dt.name)
    if name is None or dt.byteorder == ">":
        raise ValueError(f"No product type for arrays of {dt}: expected one of {sorted(_ARRAY_TYPES)}, "
                         "little-endian")
    return name


def _u64(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0 or n >= INVALID:
        raise ValueError(f"Invalid {what} number {n!r}: expected an integer from 0 to 2^64-2")
    return n


def _descriptor(uuid: bytes, run: int, subrun: int, event: int) -> bytes:
    return bytes(uuid) + struct.pack(">QQQ", run, subrun, event)


def _parts(descriptor: bytes) -> Tuple[bytes, int, int, int]:
    if len(descriptor) != 40:
        raise ValueError(f"Invalid item descriptor: expected 40 bytes, found {len(descriptor)}")
    run, subrun, event = struct.unpack(">QQQ", descriptor[16:])
    return bytes(descriptor[:16]), run, subrun, event


class DataStore(ServiceClient):
    """A connection to a HEPnOS service (``service``: its name in the server's config).
    ``stage`` (default True): batches of 8 MiB or more go through the shm tier of their
    runtime's node when this process is on it (``store_products``)."""

    def __init__(self, url: str, *, token: Optional[str] = None, timeout: Optional[float] = 60.0,
                 service: str = "hepnos", stage: bool = True):
        super().__init__(url, service, token=token, timeout=timeout, stage=stage)
        info = self.info()
        #: How many targets items and products hash to.
        self.num_targets: int = int(info["placement"]["numTargets"])
        #: Whether a second store of a product replaces the first (else it answers False).
        self.overwrite: bool = bool(info["overwrite"])

    @classmethod
    def connect(cls, url: str, **options: Any) -> "DataStore":
        """Connects and reads the service's targets and overwrite policy."""
        return cls(url, **options)

    @property
    def root(self) -> "DataSet":
        """The root dataset (path ``""``)."""
        r = self.call("dataset", {"path": ""})
        return DataSet(self, r["path"], r["uuid"])

    def store_products(self, products: List[Tuple[bytes, str, str, Any]]) -> List[bool]:
        """Stores (descriptor, label, type, bytes) products, one request per runtime holding
        their targets; per product, whether it was stored (False: one was there and the
        service keeps the first). A batch of 8 MiB or more, from a process on the node of a
        runtime with an shm tier, is written into a file that runtime stages and keeps as the
        batch's pack (``store_bytes``), instead of crossing HTTP."""
        out: List[bool] = [False] * len(products)
        for runtime, at in self._by_runtime([p[0] for p in products]).items():
            stored = self._store_staged([products[i] for i in at], runtime)
            if stored is None:
                body = {"products": [{"item": bytes(products[i][0]), "label": products[i][1],
                                      "type": products[i][2], "value": bytes(products[i][3])}
                                     for i in at]}
                stored = self.call("store", body, runtime)["stored"]
            for i, ok in zip(at, stored):
                out[i] = bool(ok)
        return out

    def _store_staged(self, products: List[Tuple[bytes, str, str, Any]],
                      runtime: int) -> Optional[List[bool]]:
        """Stores a batch as a framed body staged on the runtime's shm tier; None when it is
        not staged (too small, another node, no shm tier): send it in the request."""
        if not self._stage or runtime in self._no_stage:
            return None
        values = [_view(p[3]) for p in products]
        if sum(v.nbytes for v in values) < STAGE_FROM_BYTES:
            return None
        header = {"products": [{"item": bytes(p[0]), "label": p[1], "type": p[2]}
                               for p in products]}
        pieces = frame(header, values)
        size = sum(memoryview(p).nbytes for p in pieces)

        def write(f: Any) -> None:
            for p in pieces:
                f.write(p)

        stage = self.stage(size, write, runtime)
        if stage is None:
            return None
        res = self._post("store_bytes", None, {"content-type": OCTET_STREAM,
                                               "accept": _MSGPACK, STAGE_HEADER: stage}, runtime)
        return msgpack.unpackb(self.read(res, runtime), raw=False)["stored"]

    def _by_runtime(self, items: List[bytes]) -> Dict[int, List[int]]:
        # A product's blob lands on the runtime of its target (the hash of the item's first
        # 32 bytes: a subrun's products and its events' share one): sent there straight.
        groups: Dict[int, List[int]] = {}
        for i, d in enumerate(items):
            groups.setdefault(self.runtime_of_key(bytes(d)[:32]), []).append(i)
        return groups

    def load_products(self, products: List[Dict[str, Any]]) -> List[Optional[bytes]]:
        """Loads products ({item, label, type[, offset, length]}), one request per runtime
        holding their targets (where their blobs are); None where none is stored. On the node
        of a runtime with an shm tier (``stage=True``), the products held in its files are
        read in place under leases (``lease_products``), released once read."""
        out: List[Optional[bytes]] = [None] * len(products)
        for runtime, at in self._by_runtime([p["item"] for p in products]).items():
            read = self._read_in_place(runtime, [products[i] for i in at])
            if read is None:
                read = self._load(runtime, [products[i] for i in at])
            for i, v in zip(at, read):
                out[i] = v
        return out

    def _load(self, runtime: int, products: List[Dict[str, Any]]) -> List[Optional[bytes]]:
        values = self.call("load", {"products": products}, runtime)["values"]
        return [None if v is None else bytes(v) for v in values]

    def _read_in_place(self, runtime: int,
                       products: List[Dict[str, Any]]) -> Optional[List[Optional[bytes]]]:
        """The products read from the runtime's leased files, or None when this process cannot
        (another node, no shm tier there, products in memory): it then stops trying."""
        if not self.reads_on(runtime):
            return None
        found = self.call_leasing("lease_products", {"products": products}, runtime)
        read = None if found is None else self.read_leased(runtime, found["products"])
        if read is None:
            return None
        out, elsewhere = read
        if elsewhere:
            for k, v in zip(elsewhere, self._load(runtime, [products[k] for k in elsewhere])):
                out[k] = v
        return out

class Item:
    """What every item has: a 40-byte descriptor, products stored and loaded by (label, type)."""

    def __init__(self, datastore: DataStore, uuid: bytes, run: int = INVALID, subrun: int = INVALID,
                 event: int = INVALID):
        self.datastore = datastore
        self.descriptor = _descriptor(uuid, run, subrun, event)
        self._uuid, self._run, self._subrun, self._event = bytes(uuid), run, subrun, event

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Item) and other.descriptor == self.descriptor

    def __hash__(self) -> int:
        return hash(self.descriptor)

    def store(self, label: str, type_: str, value: Any, *, batch: Optional["WriteBatch"] = None,
              engine: Optional["AsyncEngine"] = None) -> bool:
        """Stores ``value`` (bytes-like) as product (label, type); True when stored, False when
        one was stored before and the service keeps the first. In a batch: True once queued;
        through an engine: True once started (its error lands in ``engine.errors``)."""
        if batch is not None:
            batch.store(self.descriptor, label, type_, value)
            return True
        if engine is not None:
            engine.submit(self.datastore.store_products, [(self.descriptor, label, type_, bytes(value))])
            return True
        return self.datastore.store_products([(self.descriptor, label, type_, value)])[0]

    def store_array(self, label: str, array: Any, start: int = 0, end: Optional[int] = None, *,
                    batch: Optional["WriteBatch"] = None, engine: Optional["AsyncEngine"] = None) -> bool:
        """Stores elements ``start`` to ``end`` of a 1-D numpy array (HEPnOS's ``store(label,
        vector, start, end)``), typed by its dtype (``array_type``)."""
        import numpy as np
        a = np.ascontiguousarray(np.asarray(array).reshape(-1)[start:end])
        return self.store(label, array_type(a.dtype), a.tobytes(), batch=batch, engine=engine)

    def store_json(self, label: str, type_: str, value: Any, *,
                   batch: Optional["WriteBatch"] = None, engine: Optional["AsyncEngine"] = None) -> bool:
        """Stores a JSON value as product (label, type)."""
        return self.store(label, type_, json.dumps(value).encode(), batch=batch, engine=engine)

    def load(self, label: str, type_: str, *, offset: Optional[int] = None,
             length: Optional[int] = None, prefetcher: Optional["Prefetcher"] = None) -> Optional[bytes]:
        """The bytes of product (label, type), or of ``length`` bytes from ``offset``; None when
        none is stored. With a prefetcher, a whole product it holds comes from it."""
        if prefetcher is not None and offset is None and length is None:
            hit, value = prefetcher.take(self.descriptor, label, type_)
            if hit:
                return value
        want: Dict[str, Any] = {"item": self.descriptor, "label": label, "type": type_}
        if offset is not None:
            want["offset"] = offset
        if length is not None:
            want["length"] = length
        return self.datastore.load_products([want])[0]

    def load_array(self, label: str, dtype: Any, *, prefetcher: Optional["Prefetcher"] = None) -> Any:
        """A product stored as an array of ``dtype`` (here or by ``storeArray``), or None."""
        import numpy as np
        raw = self.load(label, array_type(dtype), prefetcher=prefetcher)
        return None if raw is None else np.frombuffer(raw, dtype=np.dtype(dtype)).copy()

    def load_json(self, label: str, type_: str) -> Any:
        """A product stored with ``store_json`` (or ``storeJson``), or None."""
        raw = self.load(label, type_)
        return None if raw is None else json.loads(raw)

    def products(self, label: Optional[str] = None) -> List[Tuple[str, str]]:
        """The (label, type) of the products stored (of ``label`` only, when given)."""
        body: Dict[str, Any] = {"item": self.descriptor}
        if label is not None:
            body["label"] = label
        return [(p["label"], p["type"]) for p in self.datastore.call("products", body)["products"]]

    # Children (runs, subruns, events), numbered, in numeric order.

    def _create_child(self, child: "Item", batch: Optional["WriteBatch"],
                      engine: Optional["AsyncEngine"] = None) -> None:
        if batch is not None:
            batch.create(child.descriptor)
        elif engine is not None:
            engine.submit(self.datastore.call, "create", {"items": [child.descriptor]})
        else:
            self.datastore.call("create", {"items": [child.descriptor]})

    def _children(self, start: Optional[int], exclusive: bool, limit: int) -> List[bytes]:
        body: Dict[str, Any] = {"parent": self.descriptor, "exclusive": exclusive, "limit": limit}
        if start is not None:
            body["from"] = str(start)
        return [bytes(d) for d in self.datastore.call("children", body)["items"]]

    def _all_children(self) -> Iterator[bytes]:
        start: Optional[int] = None
        while True:
            page = self._children(start, start is not None, PAGE)
            yield from page
            if len(page) < PAGE:
                return
            start = _number(page[-1])

    def _find_child(self, n: int) -> Optional[bytes]:
        page = self._children(n, False, 1)
        return page[0] if page and _number(page[0]) == n else None

    def _bound_child(self, n: int, exclusive: bool) -> Optional[bytes]:
        page = self._children(n, exclusive, 1)
        return page[0] if page else None


def _number(descriptor: bytes) -> int:
    _, run, subrun, event = _parts(descriptor)
    return event if event != INVALID else subrun if subrun != INVALID else run


def _missing(what: str, n: int) -> NotFoundError:
    return NotFoundError(f"No {what} {n}", code="not_found", status=404, fields={what: str(n)})


class DataSet(Item):
    """A dataset: nested datasets (by name, alphabetical) and runs (by number)."""

    def __init__(self, datastore: DataStore, path: str, uuid: bytes):
        super().__init__(datastore, uuid)
        #: Its path, ``a/b/c`` (``""`` for the root).
        self.path = path

    def __repr__(self) -> str:
        return f"DataSet({self.path!r})"

    @property
    def name(self) -> str:
        """Its last name (``""`` for the root)."""
        return self.path.split("/")[-1]

    @property
    def uuid(self) -> bytes:
        """Its 16-byte UUID."""
        return self._uuid

    @classmethod
    def from_uuid(cls, datastore: DataStore, uuid: bytes) -> "DataSet":
        """The dataset with UUID ``uuid``; ``NotFoundError`` when none has it."""
        return cls(datastore, datastore.call("dataset_path", {"uuid": bytes(uuid)})["path"], uuid)

    def create_dataset(self, name: str) -> "DataSet":
        """Creates child dataset ``name`` (refusing ``/`` and ``%``), or returns the existing one."""
        r = self.datastore.call("create_dataset", {"parent": self.path, "name": name})
        return DataSet(self.datastore, r["path"], r["uuid"])

    def dataset(self, path: str) -> "DataSet":
        """The dataset at ``path`` below this one; ``NotFoundError`` when missing."""
        full = path if self.path == "" else f"{self.path}/{path}"
        r = self.datastore.call("dataset", {"path": full})
        return DataSet(self.datastore, r["path"], r["uuid"])

    __getitem__ = dataset

    def _datasets(self, start: Optional[str], exclusive: bool, limit: int) -> List["DataSet"]:
        body: Dict[str, Any] = {"parent": self.path, "exclusive": exclusive, "limit": limit}
        if start is not None:
            body["from"] = start
        return [DataSet(self.datastore, d["path"], d["uuid"])
                for d in self.datastore.call("datasets", body)["datasets"]]

    def find(self, name: str) -> Optional["DataSet"]:
        """Child dataset ``name``, or None."""
        page = self._datasets(name, False, 1)
        return page[0] if page and page[0].name == name else None

    def lower_bound(self, name: str) -> Optional["DataSet"]:
        """The first child dataset whose name is at least ``name``, or None."""
        page = self._datasets(name, False, 1)
        return page[0] if page else None

    def upper_bound(self, name: str) -> Optional["DataSet"]:
        """The first child dataset whose name is above ``name``, or None."""
        page = self._datasets(name, True, 1)
        return page[0] if page else None

    def datasets(self) -> Iterator["DataSet"]:
        """The child datasets in name order."""
        start: Optional[str] = None
        while True:
            page = self._datasets(start, start is not None, PAGE)
            yield from page
            if len(page) < PAGE:
                return
            start = page[-1].name

    def create_run(self, n: int, *, batch: Optional["WriteBatch"] = None,
                   engine: Optional["AsyncEngine"] = None) -> "Run":
        """Creates run ``n`` (idempotent)."""
        run = Run(self.datastore, self.uuid, _u64(n, "run"))
        self._create_child(run, batch, engine)
        return run

    def run(self, n: int) -> "Run":
        """Run ``n``; ``NotFoundError`` when missing."""
        found = self.find_run(n)
        if found is None:
            raise _missing("run", n)
        return found

    def find_run(self, n: int) -> Optional["Run"]:
        """Run ``n``, or None."""
        d = self._find_child(_u64(n, "run"))
        return None if d is None else Run(self.datastore, *_parts(d)[:2])

    def run_lower_bound(self, n: int) -> Optional["Run"]:
        """The first run numbered at least ``n``, or None."""
        d = self._bound_child(_u64(n, "run"), False)
        return None if d is None else Run(self.datastore, *_parts(d)[:2])

    def run_upper_bound(self, n: int) -> Optional["Run"]:
        """The first run numbered above ``n``, or None."""
        d = self._bound_child(_u64(n, "run"), True)
        return None if d is None else Run(self.datastore, *_parts(d)[:2])

    def runs(self) -> Iterator["Run"]:
        """The runs in numeric order."""
        for d in self._all_children():
            yield Run(self.datastore, *_parts(d)[:2])

    def events(self, target: Optional[int] = None) -> Iterator["Event"]:
        """The events of this dataset (not of nested ones): those of ``target`` in (run,
        subrun, event) order or, without one, every target's in turn, targets ascending.
        A subrun's events are never split between targets."""
        targets = range(self.datastore.num_targets) if target is None else [target]
        for t in targets:
            after: Optional[bytes] = None
            while True:
                body: Dict[str, Any] = {"dataset": self.uuid, "target": t, "limit": PAGE}
                if after is not None:
                    body["after"] = after
                items = [bytes(d) for d in self.datastore.call("events", body)["items"]]
                for d in items:
                    yield Event(self.datastore, *_parts(d))
                if len(items) < PAGE:
                    break
                after = items[-1]


class Run(Item):
    """A run: subruns by number."""

    def __init__(self, datastore: DataStore, uuid: bytes, run: int):
        super().__init__(datastore, uuid, run)

    def __repr__(self) -> str:
        return f"Run({self._run})"

    @property
    def number(self) -> int:
        """Its number."""
        return self._run

    def create_subrun(self, n: int, *, batch: Optional["WriteBatch"] = None,
                      engine: Optional["AsyncEngine"] = None) -> "SubRun":
        """Creates subrun ``n`` (idempotent)."""
        sub = SubRun(self.datastore, self._uuid, self._run, _u64(n, "subrun"))
        self._create_child(sub, batch, engine)
        return sub

    def subrun(self, n: int) -> "SubRun":
        """SubRun ``n``; ``NotFoundError`` when missing."""
        found = self.find_subrun(n)
        if found is None:
            raise _missing("subrun", n)
        return found

    def find_subrun(self, n: int) -> Optional["SubRun"]:
        """SubRun ``n``, or None."""
        d = self._find_child(_u64(n, "subrun"))
        return None if d is None else SubRun(self.datastore, *_parts(d)[:3])

    def subrun_lower_bound(self, n: int) -> Optional["SubRun"]:
        """The first subrun numbered at least ``n``, or None."""
        d = self._bound_child(_u64(n, "subrun"), False)
        return None if d is None else SubRun(self.datastore, *_parts(d)[:3])

    def subrun_upper_bound(self, n: int) -> Optional["SubRun"]:
        """The first subrun numbered above ``n``, or None."""
        d = self._bound_child(_u64(n, "subrun"), True)
        return None if d is None else SubRun(self.datastore, *_parts(d)[:3])

    def subruns(self) -> Iterator["SubRun"]:
        """The subruns in numeric order."""
        for d in self._all_children():
            yield SubRun(self.datastore, *_parts(d)[:3])


class SubRun(Item):
    """A subrun: events by number."""

    def __init__(self, datastore: DataStore, uuid: bytes, run: int, subrun: int):
        super().__init__(datastore, uuid, run, subrun)

    def __repr__(self) -> str:
        return f"SubRun({self._run}, {self._subrun})"

    @property
    def number(self) -> int:
        """Its number."""
        return self._subrun

    @property
    def run(self) -> int:
        """Its run's number."""
        return self._run

    def create_event(self, n: int, *, batch: Optional["WriteBatch"] = None,
                     engine: Optional["AsyncEngine"] = None) -> "Event":
        """Creates event ``n`` (idempotent)."""
        ev = Event(self.datastore, self._uuid, self._run, self._subrun, _u64(n, "event"))
        self._create_child(ev, batch, engine)
        return ev

    def event(self, n: int) -> "Event":
        """Event ``n``; ``NotFoundError`` when missing."""
        found = self.find_event(n)
        if found is None:
            raise _missing("event", n)
        return found

    def find_event(self, n: int) -> Optional["Event"]:
        """Event ``n``, or None."""
        d = self._find_child(_u64(n, "event"))
        return None if d is None else Event(self.datastore, *_parts(d))

    def event_lower_bound(self, n: int) -> Optional["Event"]:
        """The first event numbered at least ``n``, or None."""
        d = self._bound_child(_u64(n, "event"), False)
        return None if d is None else Event(self.datastore, *_parts(d))

    def event_upper_bound(self, n: int) -> Optional["Event"]:
        """The first event numbered above ``n``, or None."""
        d = self._bound_child(_u64(n, "event"), True)
        return None if d is None else Event(self.datastore, *_parts(d))

    def events(self) -> Iterator["Event"]:
        """The events in numeric order."""
        for d in self._all_children():
            yield Event(self.datastore, *_parts(d))


class Event(Item):
    """An event: products only."""

    def __init__(self, datastore: DataStore, uuid: bytes, run: int, subrun: int, event: int):
        super().__init__(datastore, uuid, run, subrun, event)

    def __repr__(self) -> str:
        return f"Event({self._run}, {self._subrun}, {self._event})"

    @property
    def number(self) -> int:
        """Its number."""
        return self._event

    @property
    def subrun(self) -> int:
        """Its subrun's number."""
        return self._subrun

    @property
    def run(self) -> int:
        """Its run's number."""
        return self._run


class WriteBatch:
    """Creates and stores queued and sent together (HEPnOS's ``WriteBatch``): creates at
    ``max_batch_size`` items, products at ``max_batch_size`` per request, on ``flush()`` and
    when the ``with`` block ends. Creates go before the products queued with them; a
    product already stored (and kept) is not an error, as in HEPnOS.

    With an ``engine`` (HEPnOS's ``WriteBatch(async_engine)``), full queues are sent in the
    background on the engine's threads: the write that fills a queue waits only while the
    engine is full, several products requests travel at once, a creates request waits for the
    creates requests still running that create a parent of one of its items (a subrun and its
    events may fill two requests; the others travel at once), and each products request waits
    for the creates queued before it; ``flush()`` waits for the batch's requests, whose errors
    land in ``engine.errors`` instead of raising."""

    def __init__(self, datastore: DataStore, max_batch_size: int = 128, *,
                 engine: Optional["AsyncEngine"] = None):
        if not isinstance(max_batch_size, int) or not 1 <= max_batch_size <= 10_000:
            raise ValueError(f"max_batch_size must be an integer from 1 to 10000, found {max_batch_size!r}")
        self.datastore = datastore
        self.max_batch_size = max_batch_size
        self.engine = engine
        self._creates: List[bytes] = []
        self._products: List[Tuple[bytes, str, str, bytes]] = []
        self._closed = False
        # With an engine: the creates requests running, with the items each creates, and
        # the requests still running.
        self._creates_running: List[Tuple[Future, set]] = []
        self._sending: List[Future] = []

    def __enter__(self) -> "WriteBatch":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        # On an exception the queued writes are still sent, as HEPnOS's destructor does.
        self.close()

    def create(self, descriptor: bytes) -> None:
        """Queues the creation of an item."""
        self._check_open()
        self._creates.append(bytes(descriptor))
        if len(self._creates) >= self.max_batch_size:
            self._send_creates()

    def store(self, descriptor: bytes, label: str, type_: str, value: Any) -> None:
        """Queues a product (its bytes copied now)."""
        self._check_open()
        self._products.append((bytes(descriptor), label, type_, bytes(value)))
        if len(self._products) >= self.max_batch_size:
            self._send_creates()
            self._send_products()

    def flush(self, timeout: float = 600.0) -> None:
        """Sends everything queued; with an engine, waits for the batch's requests (at most
        ``timeout`` seconds: ``TimeoutError`` past it)."""
        self._send_creates()
        self._send_products()
        if self._sending:
            _, running = wait_futures(self._sending, timeout=timeout)
            self._sending = list(running)
            if running:
                raise TimeoutError(f"Write batch still sends {len(running)} requests after {timeout} s")

    def close(self) -> None:
        """Sends everything queued; further writes raise."""
        if not self._closed:
            self.flush()
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("This WriteBatch is closed")

    def _send_creates(self) -> None:
        while self._creates:
            part, self._creates = self._creates[:self.max_batch_size], self._creates[self.max_batch_size:]
            if self.engine is None:
                self.datastore.call("create", {"items": part})
                continue
            # A child's create may follow its parent's in an earlier request: it waits for
            # the requests creating its parents, not for the others.
            self._creates_running = [(f, ids) for f, ids in self._creates_running if not f.done()]
            parents = {_parent_of(d) for d in part}
            before = [f for f, ids in self._creates_running if not ids.isdisjoint(parents)]

            def send(part: List[bytes] = part, before: List[Future] = before) -> None:
                for f in before:
                    f.result()  # the engine's futures never raise: errors go to its list
                self.datastore.call("create", {"items": part})

            self._creates_running.append((self._background(send), set(part)))

    def _send_products(self) -> None:
        while self._products:
            part = self._products[:self.max_batch_size]
            self._products = self._products[self.max_batch_size:]
            if self.engine is None:
                self.datastore.store_products(part)
                continue
            creates = [f for f, _ in self._creates_running if not f.done()]

            def send(part: List[Tuple[bytes, str, str, bytes]] = part,
                     creates: List[Future] = creates) -> None:
                for f in creates:
                    f.result()
                self.datastore.store_products(part)

            self._background(send)

    def _background(self, op: Callable[[], None]) -> Future:
        assert self.engine is not None
        future = self.engine.submit(op)
        self._sending = [f for f in self._sending if not f.done()] + [future]
        return future


def _parent_of(descriptor: bytes) -> bytes:
    """The descriptor of an item's parent: its last number set to INVALID (all ones)."""
    if descriptor[32:] != _ALL_ONES:
        return descriptor[:32] + _ALL_ONES
    if descriptor[24:32] != _ALL_ONES:
        return descriptor[:24] + _ALL_ONES * 2
    return descriptor[:16] + _ALL_ONES * 3


_ALL_ONES = b"\xff" * 8


class AsyncEngine:
    """Runs operations on threads (HEPnOS's ``AsyncEngine``): ``submit(fn, *args)`` starts
    ``fn`` once fewer than ``max_in_flight`` run (waiting meanwhile: bounded memory) and
    returns its ``Future``, which never raises: an error lands in ``errors``. ``wait()`` waits
    until none runs. Each thread talks to the server over its own connection.

    >>> engine = AsyncEngine(max_in_flight=4)
    >>> for n in range(10):
    ...     _ = engine.submit(lambda n=n: n * n)
    >>> _ = engine.submit(lambda: 1 / 0)
    >>> engine.wait(timeout=10)
    >>> [type(e).__name__ for e in engine.errors]
    ['ZeroDivisionError']
    >>> engine.close()
    """

    def __init__(self, max_in_flight: int = 16):
        if not isinstance(max_in_flight, int) or not 1 <= max_in_flight <= 256:
            raise ValueError(f"max_in_flight must be an integer from 1 to 256, found {max_in_flight!r}")
        self.max_in_flight = max_in_flight
        #: Errors of the operations that failed, in the order they failed.
        self.errors: List[BaseException] = []
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="hepnos-async")
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._running = 0

    def __enter__(self) -> "AsyncEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Starts ``fn(*args)`` on a thread once one of the ``max_in_flight`` is free."""
        self._slots.acquire()
        with self._lock:
            self._running += 1

        def run() -> None:
            try:
                fn(*args)
            except BaseException as e:  # collected, as HEPnOS's errors()
                with self._lock:
                    self.errors.append(e)
            finally:
                with self._lock:
                    self._running -= 1
                    if self._running == 0:
                        self._idle.notify_all()
                self._slots.release()

        try:
            return self._pool.submit(run)
        except BaseException:
            with self._lock:
                self._running -= 1
            self._slots.release()
            raise

    def wait(self, timeout: float = 60.0) -> None:
        """Waits until no operation runs; ``TimeoutError`` past ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._running > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"Async engine still runs {self._running} operations after {timeout} s")
                self._idle.wait(left)

    def close(self, timeout: float = 60.0) -> None:
        """Waits for the operations (at most ``timeout`` seconds) and stops the threads."""
        try:
            self.wait(timeout)
        finally:
            self._pool.shutdown(wait=False)


class Prefetcher:
    """Loads the products of items in batches (HEPnOS's ``Prefetcher``): ``walk`` yields the
    items of an iterable, the products named by ``fetch_product`` of each ``batch_size``
    items loaded in one request before the first of them is yielded;
    ``item.load(..., prefetcher=p)`` takes them from it. A product not taken is dropped
    once its item has been yielded, so at most one batch of products is held.

    With ``ahead=True`` the next batch's products load on a thread of the prefetcher's
    while the caller works on the current batch (HEPnOS's prefetcher loads in the
    background); a failed load is raised when its batch is reached."""

    def __init__(self, datastore: DataStore, batch_size: int = 16, ahead: bool = False):
        if not isinstance(batch_size, int) or not 1 <= batch_size <= 10_000:
            raise ValueError(f"batch_size must be an integer from 1 to 10000, found {batch_size!r}")
        self.datastore = datastore
        self.batch_size = batch_size
        self.ahead = bool(ahead)
        self._wanted: List[Tuple[str, str]] = []
        self._held: Dict[Tuple[bytes, str, str], Optional[bytes]] = {}

    def fetch_product(self, label: str, type_: str) -> None:
        """Prefetches product (label, type) of every item walked."""
        self._wanted.append((label, type_))

    @property
    def held(self) -> int:
        """Products held, not yet taken."""
        return len(self._held)

    def walk(self, items: Any) -> Iterator[Any]:
        """Yields ``items`` in order, their products loaded a batch at a time."""
        if self.ahead:
            yield from self._walk_ahead(items)
            return
        batch: List[Item] = []
        for item in items:
            batch.append(item)
            if len(batch) == self.batch_size:
                yield from self._yield(batch)
                batch = []
        yield from self._yield(batch)

    def _walk_ahead(self, items: Any) -> Iterator[Any]:
        # The thread only loads; this generator alone changes what is held. At most two
        # batches are loading: the one handed out and the next.
        with ThreadPoolExecutor(max_workers=1) as pool:
            loading: List[Tuple[List[Item], Any]] = []
            batch: List[Item] = []
            for item in items:
                batch.append(item)
                if len(batch) < self.batch_size:
                    continue
                loading.append((batch, pool.submit(self._load, batch)))
                batch = []
                if len(loading) == 2:
                    yield from self._hand(*loading.pop(0))
            if batch:
                loading.append((batch, pool.submit(self._load, batch)))
            for started in loading:
                yield from self._hand(*started)

    def _hand(self, batch: List[Item], loaded: Any) -> Iterator[Item]:
        for key, value in loaded.result():
            self._held[key] = value
        yield from self._handed(batch)

    def _yield(self, batch: List[Item]) -> Iterator[Item]:
        self.prefetch(batch)
        yield from self._handed(batch)

    def _handed(self, batch: List[Item]) -> Iterator[Item]:
        for item in batch:
            yield item
            for label, type_ in self._wanted:
                self._held.pop((item.descriptor, label, type_), None)

    def _load(self, items: List[Item]) -> List[Tuple[Tuple[bytes, str, str], Optional[bytes]]]:
        want = [(i.descriptor, label, type_) for i in items for label, type_ in self._wanted]
        if not want:
            return []
        values = self.datastore.load_products(
            [{"item": d, "label": label, "type": type_} for d, label, type_ in want])
        return list(zip(want, values))

    def prefetch(self, items: List[Item]) -> None:
        """Loads the wanted products of ``items`` in one request."""
        for key, value in self._load(items):
            self._held[key] = value

    def take(self, descriptor: bytes, label: str, type_: str) -> Tuple[bool, Optional[bytes]]:
        """(True, bytes or None) when the product was prefetched, else (False, None)."""
        key = (bytes(descriptor), label, type_)
        if key not in self._held:
            return False, None
        return True, self._held.pop(key)


class ParallelEventProcessor:
    """One rank of a parallel event processor (HEPnOS's ``ParallelEventProcessor``): every
    rank of ``ranks`` starts job ``job`` on a dataset, then pulls batches of its events
    from the job's loaders on the server, its own loader first, then the others' (work
    stealing), until all are exhausted; each event goes to exactly one rank. With MPI:
    ``rank = comm.Get_rank()``, ``ranks = comm.Get_size()``."""

    def __init__(self, datastore: DataStore, job: str, rank: int, ranks: int, *,
                 input_batch_size: int = 16, output_batch_size: int = 16):
        if not isinstance(ranks, int) or not 1 <= ranks <= 65536:
            raise ValueError(f"ranks must be an integer from 1 to 65536, found {ranks!r}")
        if not isinstance(rank, int) or not 0 <= rank < ranks:
            raise ValueError(f"Invalid rank {rank!r}: expected 0 to {ranks - 1}")
        self.datastore = datastore
        self.job, self.rank, self.ranks = job, rank, ranks
        self.input_batch_size, self.output_batch_size = input_batch_size, output_batch_size
        self._preload: List[Tuple[str, str]] = []

    def preload(self, label: str, type_: str) -> None:
        """Loads product (label, type) of every event before the function sees it."""
        self._preload.append((label, type_))

    def process(self, dataset: DataSet, fn: Any) -> int:
        """Calls ``fn(event, products)`` on this rank's share of the events of ``dataset``
        (``products``: the preloaded ones by (label, type), None where not stored);
        answers how many events it processed."""
        # A job's loaders and cursors live on the runtime its name hashes to: asked there.
        runtime = self.datastore.runtime_of_key(self.job.encode())
        self.datastore.call("processor_start", {
            "job": self.job, "dataset": dataset.uuid, "ranks": self.ranks,
            "inputBatchSize": self.input_batch_size,
        }, runtime)
        processed = 0
        while True:
            got = self.datastore.call("processor_next", {
                "job": self.job, "rank": self.rank, "n": self.output_batch_size,
            }, runtime)["items"]
            if not got:
                return processed
            events = [Event(self.datastore, *_parts(bytes(d))) for d in got]
            want = [{"item": e.descriptor, "label": label, "type": type_}
                    for e in events for label, type_ in self._preload]
            values = self.datastore.load_products(want)
            k = len(self._preload)
            for i, event in enumerate(events):
                fn(event, {p: values[i * k + j] for j, p in enumerate(self._preload)})
                processed += 1
