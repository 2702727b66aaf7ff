"""Python client end to end against a running server (URL in argv[1]): structs, columns,
N-D blocks, attach into a reused buffer, versions, waits, errors. Prints one 'ok NAME'
line per check and a JSON summary last."""

import json
import sys

import numpy as np

import strata

url = sys.argv[1]
c = strata.connect(url, map=False)
N = 1000
c.create_dataset("particles", f"""
dataset particles {{
  type Particle struct {{ x, y, z float64; ux, uy, uz, w float32; id int64 }}
  var p [{N}]Particle
  var temp [40, 60]float64
}}
fragment ranks(lo, hi) {{ var p = p[lo:hi] }}
fragment xyz columnar {{ var p {{ x float32, y float32, z float32 }} = p }}
fragment block(r0, r1, c0, c1) {{ var t = temp[r0:r1, c0:c1] }}
fragment field {{ var t = temp }}
""", retention=3)

# 1. A rank's block of structs, published as a structured numpy array.
whole = c.empty("particles")
p = whole["p"]
assert p.dtype.names == ("x", "y", "z", "ux", "uy", "uz", "w", "id"), p.dtype
assert p.dtype.itemsize == 48 and p.shape == (N,)
p["x"] = np.arange(N)
p["y"] = np.arange(N) * 2
p["z"] = np.arange(N) * 3
p["id"] = np.arange(N) + 100
whole["temp"][:] = np.arange(2400, dtype=np.float64).reshape(40, 60)
r = c.publish("particles", 1, "dataset", whole)
assert r["committed"] is True and r["byteLength"] == N * 48 + 2400 * 8, r
print("ok publish-views")

# 2. Attach: a dict of slots, a structured array, columns, a 2-D block.
v, got = c.attach("particles", with_version=True)
assert v == 1 and set(got) == {"p", "temp"}
assert np.array_equal(got["p"]["id"], np.arange(N) + 100)
assert got["temp"].shape == (40, 60) and got["temp"][39, 59] == 2399
print("ok attach-dataset")
ranks = c.attach("particles", "ranks", params={"lo": 10, "hi": 20})
assert ranks.shape == (10,) and ranks.dtype.names[0] == "x"
assert np.array_equal(ranks["x"], np.arange(10, 20, dtype=np.float64))
print("ok attach-structs")
xyz = c.attach("particles", "xyz")
assert set(xyz) == {"x", "y", "z"} and all(a.dtype == np.float32 for a in xyz.values())
assert np.array_equal(xyz["z"], (np.arange(N) * 3).astype(np.float32))
print("ok attach-columns")
block = c.attach("particles", "block", params={"r0": 1, "r1": 3, "c0": 2, "c1": 5})
assert block.shape == (2, 3) and block.dtype == np.float64
assert np.array_equal(block, np.arange(2400.0).reshape(40, 60)[1:3, 2:5])
print("ok attach-nd")

# 3. Version 2 from four ranks (particles only) (a plain ndarray each, structured dtype from the layout),
#    attached into one buffer reused across versions.
layout = c.layout("particles", "ranks", {"lo": 0, "hi": N // 4})
for rank in range(4):
    lo, hi = rank * N // 4, (rank + 1) * N // 4
    part = strata.view(layout, np.zeros(layout["byteLength"], np.uint8))
    part["x"] = np.arange(lo, hi) + 0.5
    r = c.publish("particles", 2, "ranks", part, params={"lo": lo, "hi": hi})
assert r["committed"] is False  # temp is not published: committed explicitly
assert c.commit("particles", 2) == {"version": 2, "retired": []}
buf = c.empty("particles", "xyz")
before = buf["x"]
out = c.attach("particles", "xyz", version=2, into=buf)
assert np.shares_memory(out["x"], before)
assert np.array_equal(buf["x"], (np.arange(N) + 0.5).astype(np.float32))
raw = bytearray(N * 12)
c.attach("particles", "xyz", version=1, into=raw)
assert np.frombuffer(raw, np.float32, N)[N - 1] == N - 1
print("ok attach-into")

# 4. Versions, commit, wait.
c.publish("particles", 3, "ranks", bytes(48 * 10), params={"lo": 0, "hi": 10})
states = {int(x["version"]): x["state"] for x in c.versions("particles")}
assert states == {1: "committed", 2: "committed", 3: "open"}, states
assert c.commit("particles", 3)["version"] == 3
assert c.wait("particles", 3, timeout=5) == 3
print("ok versions")

# Datasets, all of them or a page after a name.
for name in ("p-a", "p-b", "p-c"):
    c.create_dataset(name, "dataset p { var t [4]int8 }")
assert [d["name"] for d in c.datasets()] == ["p-a", "p-b", "p-c", "particles"]
assert [d["name"] for d in c.datasets(limit=2)] == ["p-a", "p-b"]
assert [d["name"] for d in c.datasets(after="p-b", limit=2)] == ["p-c", "particles"]
assert [d["name"] for d in c.datasets(after="p-c")] == ["particles"]
assert [int(v["version"]) for v in c.versions("particles", limit=2)] == [1, 2]
assert [int(v["version"]) for v in c.versions("particles", after=1)] == [2, 3]
assert [int(v["version"]) for v in c.versions("particles", after=1, limit=1)] == [2]
print("ok datasets")

# 5. Errors named like the server's codes, with its fields.
errors = {}
def expect(cls, fn):
    try:
        fn()
    except cls as e:
        errors[type(e).__name__] = {"status": e.status, "code": e.code, "message": e.message}
        return
    raise AssertionError(f"expected {cls.__name__}")
expect(strata.NotFoundError, lambda: c.attach("nothing"))
expect(strata.SizeMismatchError, lambda: c.publish("particles", 4, "dataset", b"abc"))
expect(strata.ConflictError, lambda: c.create_dataset("particles", "dataset particles { var t [4]int8 }"))
expect(strata.InvalidDescriptionError, lambda: c.create_dataset("bad", "dataset { var t [4]nope }"))
expect(strata.TimeoutError, lambda: c.attach("particles", version=9, wait=0.1))
expect(strata.InvalidLayoutError, lambda: c.attach("particles", "block"))
expect(strata.NotHereError, lambda: c.attach("particles", "xyz", map=True))
assert issubclass(strata.TimeoutError, TimeoutError)
assert all(cls.code in strata.ERRORS for cls in strata.ERRORS.values())
print("ok errors")
print(json.dumps({"codes": sorted(strata.ERRORS), "errors": errors}))
