"""Streams pushed steps (URL, dataset, steps in argv) with ``ahead``: every committed version
from 1, values checked (x is version * 1000 + index), into one buffer reused; then checks that a
stream from the latest version starts there, that a stream whose wait runs out ends, and that
a fragment the dataset does not declare raises its error. Prints ``ok <what>`` lines and the
versions seen as JSON."""

import json
import sys

import numpy as np

import strata

url, dataset, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = strata.connect(url)
print("ready", flush=True)
into = c.empty(dataset, "xyz")
seen = []
stream = c.stream(dataset, "xyz", start=1, steps=steps, timeout=30, ahead=4, into=into)
for version, xyz in stream:
    expect = (version * 1000 + np.arange(xyz["x"].shape[0])).astype(np.float32)
    assert np.array_equal(xyz["x"], expect), (version, xyz["x"][:4])
    assert np.shares_memory(xyz["x"], into["x"])
    seen.append(version)
print("ok pushed", flush=True)

# Leaving a stream with break drops its connection; many in a row do not pile up at the runtime.
for _ in range(80):
    for v, _ in c.stream(dataset, "xyz", start=1, timeout=5, ahead=2):
        assert v == 1
        break
print("ok break", flush=True)

# From the latest committed version: it comes first, then nothing within the wait.
latest = [v for v, _ in c.stream(dataset, "xyz", timeout=0.5, ahead=2)]
assert latest == [steps], latest
print("ok latest", flush=True)

try:
    for _ in c.stream(dataset, "nope", start=1, timeout=1, ahead=2):
        pass
    raise AssertionError("a fragment the dataset does not declare streamed")
except strata.StrataError as e:
    assert "Unknown fragment 'nope'" in str(e), str(e)
print("ok unknown fragment", flush=True)

try:
    c.stream(dataset, "xyz", ahead=17)
    raise AssertionError("ahead=17 was taken")
except ValueError:
    pass
try:
    next(iter(c.stream(dataset, "xyz", ahead=2, limit=5000, timeout=1)))
    raise AssertionError("limit=5000 was taken")
except strata.StrataError as e:
    assert "subscription limit" in str(e), str(e)
print("ok refused", flush=True)
print(json.dumps({"versions": seen}))
