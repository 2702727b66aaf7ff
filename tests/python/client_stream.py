"""Streams a dataset's steps (URL, dataset, steps in argv): for each version checks that
every x is version * 1000 + index and prints the versions seen as JSON."""

import json
import sys

import numpy as np

import strata

url, dataset, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = strata.connect(url)
print("ready", flush=True)
seen = []
for version, xyz in c.stream(dataset, "xyz", start=1, steps=steps, timeout=30):
    expect = (version * 1000 + np.arange(xyz["x"].shape[0])).astype(np.float32)
    assert np.array_equal(xyz["x"], expect), (version, xyz["x"][:4])
    seen.append(version)
print(json.dumps({"versions": seen}))
