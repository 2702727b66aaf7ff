"""Same-node zero-copy attach (URL in argv[1], a server whose shm tier comes first): the
array maps the runtime's file read-only, nothing is copied, the lease keeps the bytes
through an overwrite and is released after use. Prints 'ok NAME' lines, then JSON."""

import gc
import json
import sys
import threading
import time

import numpy as np

import strata

url = sys.argv[1]
c = strata.connect(url)
N = 1 << 18  # 2 MiB of float64
c.create_dataset("field", f"dataset field {{ var t [{N // 512}, 512]float64 }}", retention=2)
one = np.arange(N, dtype=np.float64).reshape(N // 512, 512)
assert c.publish("field", 1, "dataset", one)["tier"] == "shm"

a = c.attach("field", map=True)
assert isinstance(a.base, np.memmap) and not a.flags.writeable and not a.flags.owndata
assert a.shape == (N // 512, 512) and np.array_equal(a, one)
path = a.base.filename
lease = strata.mapping.lease_of(a)
assert lease is not None and c.leases.live == 1
print("ok mapped")

# Retired and freed while mapped (retention 2): the lease keeps the bytes the array maps.
c.publish("field", 2, "dataset", one * -1)
c.publish("field", 3, "dataset", one * -1)
states = {int(x["version"]): x["state"] for x in c.versions("field")}
assert states[1] == "retired", states
assert np.array_equal(a, one)
fresh = c.attach("field", map=False)
assert np.array_equal(fresh, -one)
print("ok freed-keeps-mapping")

# Released when the arrays go, or at once.
b = c.attach("field")
assert isinstance(b.base, np.memmap) and c.leases.live == 2
del a
gc.collect()
deadline = time.time() + 5
while c.leases.live != 1 and time.time() < deadline:
    time.sleep(0.01)
assert c.leases.live == 1
assert c.release(b) is True and c.leases.live == 0
assert np.array_equal(b, -one)  # still readable: the mapping holds its pages
print("ok released")

# A stream of mapped steps, one lease at a time.
for v in (4, 5):
    c.publish("field", v, "dataset", one + v)
seen = []
for v, arr in c.stream("field", start=4, steps=2):
    assert isinstance(arr.base, np.memmap) and arr[0, 0] == v
    assert c.leases.live == 1
    seen.append(v)
assert seen == [4, 5] and c.leases.live == 0
print("ok stream")

# The same data over HTTP: equal values, a writable copy.
h = c.attach("field", version=5, map=False)
assert h.flags.writeable and np.array_equal(h, one + 5)
print("ok http")
# Parts: the copies a region is gathered from, each mapped in place, in one request.
c.create_dataset("bands", "dataset bands { var t [8, 512]float64 }\n"
                 "fragment band(r0, r1) { var t = t[r0:r1, :] }\n"
                 "fragment block(r0, r1, c0, c1) { var b = t[r0:r1, c0:c1] }")
grid = np.arange(8 * 512, dtype=np.float64).reshape(8, 512)
for r0 in (0, 4):
    c.publish("bands", 1, "band", grid[r0:r0 + 4], params={"r0": r0, "r1": r0 + 4})
got = c.map_parts("bands", "block", version=1, params={"r0": 2, "r1": 6, "c0": 0, "c1": 100})
assert got.version == 1 and got.unmapped == [] and len(got.parts) == 2
assert c.leases.live == 1  # one lease for both parts
for part in got.parts:
    r0 = part.bindings["r0"]
    assert not part.data.flags.writeable and np.array_equal(part.data, grid[r0:r0 + 4])
assert got.layout["byteLength"] == 4 * 100 * 8
first, second = got.parts
del got, part
gc.collect()
assert c.leases.live == 1  # the second part still maps its file
assert np.array_equal(second.data, grid[4:8])
del first, second
gc.collect()
deadline = time.time() + 5
while c.leases.live != 0 and time.time() < deadline:
    time.sleep(0.01)
assert c.leases.live == 0
print("ok parts")

# Without renewal: no thread; a collected part's lease is released with the next mapping.
threads = threading.active_count()
q = strata.connect(url, renew=False)
region = {"r0": 2, "r1": 6, "c0": 0, "c1": 100}
got = q.map_parts("bands", "block", version=1, params=region)
held = strata.mapping.lease_of(got.parts[0].data)
assert held is not None and q.leases.live == 1 and threading.active_count() == threads
del got
gc.collect()
assert q.leases.live == 0
c.http.json("POST", f"/leases/{held}/renew")  # still live at the runtime: nothing sent yet
again = q.map_parts("bands", "block", version=1, params=region)
try:
    c.http.json("POST", f"/leases/{held}/renew")
    raise AssertionError("a collected lease was kept after the next mapping")
except strata.NotFoundError:
    pass
kept = strata.mapping.lease_of(again.parts[1].data)
assert np.array_equal(again.parts[1].data, grid[4:8])
q.close()
try:
    c.http.json("POST", f"/leases/{kept}/renew")
    raise AssertionError("a live lease was kept after close")
except strata.NotFoundError:
    pass
assert threading.active_count() == threads
print("ok parts-without-renewal")

# Publish through the shm tier: the bytes go into a staged file, not the request body.
c.create_dataset("staged", "dataset staged { var t [4, 512]float64 }")
values = np.arange(4 * 512, dtype=np.float64).reshape(4, 512) * 3
record = c.publish("staged", 1, "dataset", values, via="shm")
assert record["committed"] and record["byteLength"] == values.nbytes
assert np.array_equal(c.attach("staged", version=1, map=False), values)
try:
    c.publish("staged", 2, "dataset", values[:2], via="shm")
    raise AssertionError("a short publish was accepted")
except ValueError:
    pass
print("ok staged")
c.close()
print(json.dumps({"path": path, "lease": lease}))
