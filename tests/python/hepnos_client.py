"""The Python HEPnOS client against a running server (URL in argv[1], overwrite policy in
argv[2]): the behaviours of HEPnOS's DataSet, RunSet, EventSet, LoadStore and WriteBatch
tests, and products shared with the TypeScript client (dataset `interop`). Prints one
'ok NAME' line per check and a JSON summary last."""

import json
import sys
import threading
import time

import numpy as np

import strata
from _checks import raises
from strata import hepnos

url, overwrite = sys.argv[1], sys.argv[2] == "overwrite"
store = hepnos.DataStore.connect(url)
assert store.num_targets == 4, store.num_targets
assert store.overwrite is overwrite
root = store.root
assert root.path == "" and len(root.uuid) == 16


# DataSetTest: nested creates, refused names, paths, idempotence, order, bounds.
mds = root.create_dataset("matthieu")
for n in ["shane", "phil", "rob"]:
    root.create_dataset(n)
e = raises(strata.InvalidRequestError, mds.create_dataset, "ds0/AAA")
assert e.status == 400, e
raises(strata.InvalidRequestError, mds.create_dataset, "ds0%RRS")
ds1 = mds.create_dataset("ds1")
assert (ds1.name, ds1.path) == ("ds1", "matthieu/ds1")
assert root["matthieu/ds1"].uuid == ds1.uuid
ds11 = ds1.create_dataset("ds11")
assert mds.dataset("ds1/ds11").uuid == ds11.uuid
assert hepnos.DataSet.from_uuid(store, ds11.uuid).path == "matthieu/ds1/ds11"
for n in ["ds3", "ds2", "dsB", "dsD"]:
    mds.create_dataset(n)
assert mds.create_dataset("ds2").path == "matthieu/ds2"
raises(strata.NotFoundError, mds.dataset, "ds6")
assert mds.find("ds6") is None and mds.find("ds2").name == "ds2"
assert [d.name for d in mds.datasets()] == ["ds1", "ds2", "ds3", "dsB", "dsD"]
# `interop` was created by the TypeScript client before this script ran.
assert [d.name for d in root.datasets()] == ["interop", "matthieu", "phil", "rob", "shane"]
assert mds.lower_bound("dsB").name == "dsB" and mds.lower_bound("dsC").name == "dsD"
assert mds.upper_bound("dsB").name == "dsD" and mds.upper_bound("dsD") is None
print("ok datasets")

# RunSetTest: idempotent creates, numeric order (not text order), find and bounds.
runs_ds = root.create_dataset("runs")
for n in [42, 3, 7, 10, 7]:
    runs_ds.create_run(n)
assert [r.number for r in runs_ds.runs()] == [3, 7, 10, 42]
assert runs_ds.find_run(10).number == 10 and runs_ds.find_run(11) is None
raises(strata.NotFoundError, runs_ds.run, 11)
assert runs_ds.run_lower_bound(8).number == 10 and runs_ds.run_lower_bound(10).number == 10
assert runs_ds.run_upper_bound(10).number == 42 and runs_ds.run_upper_bound(42) is None
big = (1 << 64) - 2
runs_ds.create_run(big)
assert [r.number for r in runs_ds.runs()][-1] == big
for bad in (-1, (1 << 64) - 1, 1.5, True):
    raises(ValueError, runs_ds.create_run, bad)
print("ok runs")

# EventSetTest: events of subruns, per target and overall; a subrun never split.
ev_ds = root.create_dataset("events")
want = []
for r in range(3):
    run = ev_ds.create_run(r)
    for s in range(4):
        sub = run.create_subrun(s)
        for ev in range(5):
            sub.create_event(ev)
            want.append((r, s, ev))
sub = ev_ds.run(1).subrun(2)
assert [e.number for e in sub.events()] == [0, 1, 2, 3, 4]
assert sub.find_event(3).number == 3 and sub.find_event(9) is None
assert sub.event_lower_bound(3).number == 3 and sub.event_upper_bound(3).number == 4
assert [s.number for s in ev_ds.run(2).subruns()] == [0, 1, 2, 3]
everything = [(e.run, e.subrun, e.number) for e in ev_ds.events()]
per_target = [[(e.run, e.subrun, e.number) for e in ev_ds.events(t)] for t in range(4)]
assert sorted(everything) == want and len(everything) == len(want)
assert sum(per_target, []) == everything
owner = {}
for t, events in enumerate(per_target):
    assert events == sorted(events), f"target {t} out of order"
    for (r, s, _) in events:
        assert owner.setdefault((r, s), t) == t, f"subrun {(r, s)} split between targets"
print("ok events")

# LoadStoreTest: bytes, arrays (and a range of one), JSON, ranges, the overwrite policy.
event = ev_ds.run(0).subrun(0).event(0)
assert event.store("raw", "bytes", b"abcdef") is True
assert event.load("raw", "bytes") == b"abcdef"
assert event.load("raw", "bytes", offset=2, length=3) == b"cde"
assert event.load("raw", "other") is None and event.load("none", "bytes") is None
again = event.store("raw", "bytes", b"XYZ")
assert again is overwrite, again
assert event.load("raw", "bytes") == (b"XYZ" if overwrite else b"abcdef")
values = np.arange(10, dtype=np.float64) / 4
assert event.store_array("energies", values, 2, 7)
assert np.array_equal(event.load_array("energies", np.float64), values[2:7])
assert event.load_array("energies", np.int32) is None
ids = np.arange(5, dtype=np.uint64) + (1 << 63)
assert event.store_array("ids", ids)
assert np.array_equal(event.load_array("ids", np.uint64), ids)
raises(ValueError, event.store_array, "c", np.zeros(2, dtype=np.complex64))
assert event.store_json("meta", "Meta", {"a": [1, 2], "b": "x"})
assert event.load_json("meta", "Meta") == {"a": [1, 2], "b": "x"}
big_value = np.random.default_rng(7).bytes(200_000)  # past the KV's 64 KiB: a blob
assert ev_ds.run(0).store("calib", "bytes", big_value)
assert ev_ds.run(0).load("calib", "bytes") == big_value
assert ev_ds.run(0).load("calib", "bytes", offset=100_000, length=10) == big_value[100_000:100_010]
assert sorted(event.products()) == [("energies", "Float64Array"), ("ids", "BigUint64Array"),
                                    ("meta", "Meta"), ("raw", "bytes")]
assert event.products("raw") == [("raw", "bytes")]
print("ok products")

# WriteBatchTest: creates and products queued, sent at the batch size and at the end.
wb_ds = root.create_dataset("batched")
with hepnos.WriteBatch(store, max_batch_size=64) as batch:
    run = wb_ds.create_run(5, batch=batch)
    sub = run.create_subrun(1, batch=batch)
    for n in range(300):
        ev = sub.create_event(n, batch=batch)
        ev.store("n", "bytes", n.to_bytes(4, "little"), batch=batch)
    # 300 creates and products at 64 a request: the first ones are on the server already.
    assert wb_ds.run(5).subrun(1).find_event(0) is not None
assert [e.number for e in wb_ds.run(5).subrun(1).events()] == list(range(300))
assert wb_ds.run(5).subrun(1).event(299).load("n", "bytes") == (299).to_bytes(4, "little")
raises(RuntimeError, batch.create, b"\0" * 40)
prefetcher = hepnos.Prefetcher(store, batch_size=32)
prefetcher.fetch_product("n", "bytes")
walked = []
for ev in prefetcher.walk(wb_ds.run(5).subrun(1).events()):
    assert prefetcher.held >= 1  # this event's product came with its batch
    walked.append(int.from_bytes(ev.load("n", "bytes", prefetcher=prefetcher), "little"))
    assert prefetcher.take(ev.descriptor, "n", "bytes") == (False, None)  # taken once
assert walked == list(range(300)) and prefetcher.held == 0
# Reading ahead: the next batch loads on the prefetcher's thread while this one is walked.
loads = []
real_load = store.load_products
store.load_products = lambda products: (loads.append(threading.get_ident()), real_load(products))[1]
ahead = hepnos.Prefetcher(store, batch_size=32, ahead=True)
ahead.fetch_product("n", "bytes")
walked = []
for ev in ahead.walk(wb_ds.run(5).subrun(1).events()):
    walked.append(int.from_bytes(ev.load("n", "bytes", prefetcher=ahead), "little"))
    assert ahead.take(ev.descriptor, "n", "bytes") == (False, None)  # taken once
del store.load_products
assert walked == list(range(300)) and ahead.held == 0
assert len(loads) == 10 and threading.get_ident() not in loads  # every batch came from the thread
raises(ValueError, hepnos.WriteBatch, store, 0)
print("ok write-batch")

# WriteBatch over an AsyncEngine: requests on the engine's threads, creates and products
# requests side by side, a child's create after its parent's, errors in the engine.

counts = {"create": 0, "store": 0}
most = {"create": 0, "store": 0}
guard = threading.Lock()


def traced(kind, fn):
    def run(*args):
        with guard:
            counts[kind] += 1
            most[kind] = max(most[kind], counts[kind])
        try:
            return fn(*args)
        finally:
            with guard:
                counts[kind] -= 1
    return run


ONES = b"\xff" * 8
created = set()


def parent(d):
    if d[32:] != ONES:
        return d[:32] + ONES
    if d[24:32] != ONES:
        return d[:24] + ONES * 2
    return None  # a run: its dataset exists


def ordered_create(op, body, runtime=None):
    """A create whose items' parents were created by an answered request, or by this one;
    held a little, so requests overlap."""
    here = {bytes(d) for d in body["items"]}
    for d in here:
        p = parent(d)
        assert p is None or p in created or p in here, "a child's create before its parent's"
    time.sleep(0.005)
    out = plain_call(op, body, runtime)
    with guard:
        created.update(here)
    return out


async_store = hepnos.DataStore.connect(url)
plain_call = async_store.call
async_store.call = lambda op, body, runtime=None: (
    traced("create", ordered_create)(op, body, runtime) if op == "create" else plain_call(op, body, runtime))
async_store.store_products = traced("store", async_store.store_products)
engine = hepnos.AsyncEngine(max_in_flight=4)
aw_ds = root.create_dataset("batched-async")
for size in [1, 8]:
    with hepnos.WriteBatch(async_store, max_batch_size=size, engine=engine) as batch:
        run = aw_ds.create_run(size, batch=batch)
        for s in range(3):
            sub = run.create_subrun(s, batch=batch)
            for n in range(12):
                sub.create_event(n, batch=batch).store_json("n", "u64", 100 * s + n, batch=batch)
    assert engine.errors == [], engine.errors
    for s in range(3):
        sub = aw_ds.run(size).subrun(s)
        assert [e.number for e in sub.events()] == list(range(12))
        assert [sub.event(n).load_json("n", "u64") for n in range(12)] == [100 * s + n for n in range(12)]
assert most["create"] > 1, most
assert most["store"] > 1, most
# Stores and creates through the engine alone; a product of an event that does not exist
# fails there, not in the caller.
sub = aw_ds.run(8).subrun(0)
for n in range(12, 20):
    sub.create_event(n, engine=engine)
engine.wait(timeout=30)
for n in range(12, 20):
    sub.event(n).store("x", "bytes", b"x", engine=engine)
hepnos.Event(store, sub._uuid, sub._run, sub._subrun, 999).store("x", "bytes", b"x", engine=engine)
engine.wait(timeout=30)
assert len(engine.errors) == 1 and isinstance(engine.errors[0], strata.NotFoundError), engine.errors
assert all(sub.event(n).load("x", "bytes") == b"x" for n in range(12, 20))
engine.close()
raises(ValueError, hepnos.AsyncEngine, 0)
print("ok async-engine")

# Products shared with the TypeScript client (it stored `ts` before and reads `py` after).
interop = root.create_dataset("interop").create_run(1).create_subrun(1).create_event(1)
assert np.array_equal(interop.load_array("ts", np.float64), np.array([1.5, 2.5, 3.5]))
assert interop.store_array("py", np.array([-1, 0, 7], dtype=np.int32))
print("ok interop")

# Errors: the server's codes as the client's classes.
e = raises(strata.NotFoundError, store.call, "no_such_operation", {})
e2 = raises(strata.InvalidRequestError, store.call, "create", {"items": [b"short"]})
print("ok errors")
print(json.dumps({"errors": {c.code: c.status for c in (e, e2)}}))
