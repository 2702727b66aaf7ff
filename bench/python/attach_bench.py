"""Attach time from Python, mapped in place against HTTP (argv: URL, sizes in MiB, reps).

Publishes one version of a float64 field of each size (the server's shm tier holds it),
then times ``attach`` mapped (``map=True``) and over HTTP (``map=False``, into a reused
buffer and into a new one), and the same attaches followed by a read of every value
(``np.sum``). Prints one JSON line per size."""

import json
import statistics
import sys
import time

import numpy as np

import strata

url, sizes, reps = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], int(sys.argv[3])
c = strata.connect(url)
MiB = 1 << 20


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out), min(out)


for mib in sizes:
    n = mib * MiB // 8
    name = f"field{mib}"
    c.create_dataset(name, f"dataset {name} {{ var t [{n}]float64 }}", retention=1)
    data = np.arange(n, dtype=np.float64)
    assert c.publish(name, 1, "dataset", data)["tier"] == "shm"
    into = np.empty(n, np.float64)

    def mapped():
        a = c.attach(name, map=True)
        c.release(a)

    def mapped_sum():
        a = c.attach(name, map=True)
        a.sum()
        c.release(a)

    def http_into():
        c.attach(name, map=False, into=into)

    def http_new():
        c.attach(name, map=False)

    def http_sum():
        c.attach(name, map=False, into=into).sum()

    a = c.attach(name, map=True)
    verified = bool(a[n - 1] == n - 1 and a[n // 2] == n // 2)
    c.release(a)
    b = c.attach(name, map=False, into=into)
    verified = verified and bool(np.array_equal(b, data))
    heavy = max(3, reps // (1 + mib // 8))
    point = {"bytes": mib * MiB, "verified": verified}
    for key, fn, k in (("map", mapped, reps), ("mapSum", mapped_sum, heavy),
                       ("httpInto", http_into, heavy), ("httpNew", http_new, heavy),
                       ("httpSum", http_sum, heavy)):
        fn()  # warm
        med, best = timed(fn, k)
        point[key] = {"median": med, "best": best, "reps": k}
    print(json.dumps(point), flush=True)
    c.delete_dataset(name)
c.close()
