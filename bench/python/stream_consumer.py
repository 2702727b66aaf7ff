"""The Python consumer of the streaming benchmark (argv: URL, dataset, steps, warm-up, ahead).

Streams fragment ``soa`` (columns x, y, z, energy: the runtime reshapes the producer's array
of structs) into one buffer reused every step, as ADIOS2's Python Stream reads steps: with
ahead 0, a request waits for each version and attaches it; with ahead N, the runtime pushes
the steps over one response, fetching N ahead. Prints each version consumed (the driver
acknowledges it to the producer), then a JSON line with the steady-state time."""

import json
import sys
import time

import numpy as np

import strata

url, dataset, steps, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ahead = int(sys.argv[5]) if len(sys.argv) > 5 else 0
c = strata.connect(url, map=False)
into = c.empty(dataset, "soa")
n = into["x"].shape[0]
verified = True
t0 = None
for version, cols in c.stream(dataset, "soa", start=1, steps=steps, into=into, timeout=120,
                              ahead=ahead or None):
    k = (version * 7919) % n
    verified = verified and np.shares_memory(cols["x"], into["x"]) and cols["x"][k] == k and \
        cols["y"][k] == -k and cols["z"][k] == 2 * k and cols["energy"][k] == k / 4
    into["x"][((version + 1) * 7919) % n] = np.nan  # the next step must write it again
    if version == warmup:
        t0 = time.perf_counter()
    print(version, flush=True)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "steps": steps - warmup, "verified": bool(verified)}), flush=True)
