"""The Python service clients on three runtimes (URLs in argv[1], comma separated, in the
services' runtime order), connected to the first: requests for a key go straight to the runtime
of its target, counted in each runtime's request metrics, and large FlameStore weights are
staged on that runtime's shm tier. argv[2]: a JSON file of keys whose targets the TypeScript
ring computed, to check this client's ring against. Prints one 'ok NAME' line per check."""

import json
import sys
import urllib.request

import numpy as np

from strata import flamestore, hepnos, mobject
from strata._ring import TargetRing, hash32

urls = sys.argv[1].split(",")
OPS = "/v1/services/:name/:operation"
STAGES = "/v1/services/:name/stages"

with open(sys.argv[2]) as f:
    cases = json.load(f)
for c in cases:
    ring = TargetRing(c["numTargets"], c["virtualNodes"], c["runtimes"])
    got = [ring.target_of(hash32(bytes.fromhex(k))) for k in c["keys"]]
    assert got == c["targets"], (c["numTargets"], c["virtualNodes"], got, c["targets"])
print("ok ring")


def posts(route):
    """Per runtime, the POST requests it answered on ``route``."""
    out = []
    for u in urls:
        text = urllib.request.urlopen(u + "/metrics").read().decode()
        n = 0.0
        for line in text.splitlines():
            if (line.startswith("strata_http_request_duration_seconds_count{")
                    and f'route="{route}"' in line and 'method="POST"' in line):
                n += float(line.rsplit(" ", 1)[1])
        out.append(int(n))
    return out


def operations(service, operation):
    """Summed over the runtimes, the service operations run under this name."""
    n = 0.0
    for u in urls:
        text = urllib.request.urlopen(u + "/metrics").read().decode()
        for line in text.splitlines():
            if (line.startswith("strata_service_operation_duration_seconds_count{")
                    and f'service="{service}"' in line and f'operation="{operation}"' in line):
                n += float(line.rsplit(" ", 1)[1])
    return int(n)


def delta(before, after):
    return [b - a for a, b in zip(before, after)]


# HEPnOS: one store request per runtime holding the products' targets, sent to it.
store = hepnos.DataStore(urls[0])
assert store.ring.runtimes == ["a", "b", "c"], store.ring.runtimes
run = store.root.create_dataset("routing").create_run(1)
events = [run.create_subrun(s).create_event(1) for s in range(24)]
# None on the connected runtime: a server forwarding them would count a request there.
events = [e for e in events if store.runtime_of_key(e.descriptor[:32]) != 0]
products = [(e.descriptor, "p", "t", bytes([i]) * 100) for i, e in enumerate(events)]
expected = [0, 0, 0]
for r in {store.runtime_of_key(e.descriptor[:32]) for e in events}:
    expected[r] += 1
assert expected == [0, 1, 1], expected
before = posts(OPS)
assert store.store_products(products) == [True] * len(products)
assert delta(before, posts(OPS)) == expected, (delta(before, posts(OPS)), expected)
back = store.load_products([{"item": d, "label": l, "type": t} for d, l, t, _ in products])
assert back == [v for _, _, _, v in products]
assert delta(before, posts(OPS)) == [2 * n for n in expected], "a load request per runtime"
print("ok hepnos")

# Mobject: each object's requests go to the runtime of its target.
ioctx = mobject.Client(urls[0]).open_ioctx("pool")
keys = [f"obj-{i}" for i in range(12)]
expected = [0, 0, 0]
for k in keys:
    expected[ioctx.client.runtime_of_key(f"pool/{k}".encode())] += 1
assert sum(1 for n in expected if n) >= 2, expected
before = posts(OPS)
framed = operations("mobject", "write_op_bytes"), operations("mobject", "read_op_bytes")
for i, k in enumerate(keys):
    ioctx.write_full(k, bytes([i]) * 1000)
assert delta(before, posts(OPS)) == expected, (delta(before, posts(OPS)), expected)
assert all(ioctx.read(k, 1000) == bytes([i]) * 1000 for i, k in enumerate(keys))
# The bytes travelled raw in framed bodies, both ways.
assert operations("mobject", "write_op_bytes") - framed[0] == len(keys)
assert operations("mobject", "read_op_bytes") - framed[1] == len(keys)
big = bytes(range(256)) * (3 << 12)  # 3 MiB, several chunks
ioctx.write_full("big", big)
assert ioctx.read("big", len(big)) == big
assert ioctx.read("big", 10, len(big) - 4) == big[-4:]
print("ok mobject")

# FlameStore: a model on the last runtime, its 9 MiB of weights staged on that runtime's node.
models = flamestore.Client(urls[0])
name = next(f"m{i}" for i in range(1000) if models.runtime_of_key(f"m{i}".encode()) == 2)
weights = [np.arange(9 << 18, dtype=np.float32), np.ones(4, np.float32)]
models.register_model(name, {"class_name": "Sequential", "config": {"layers": []}}, weights)
before_ops, before_stages = posts(OPS), posts(STAGES)
assert models.save_weights(name, weights) == 1
assert delta(before_stages, posts(STAGES)) == [0, 0, 1], delta(before_stages, posts(STAGES))
assert delta(before_ops, posts(OPS)) == [0, 0, 1], delta(before_ops, posts(OPS))
assert all(np.array_equal(a, b) for a, b in zip(models.load_weights(name), weights))
print("ok flamestore")

# A runtime that refuses connections: the request goes to the connected server instead.
models._https[2] = type(models._https[2])("http://127.0.0.1:1")
models._no_stage.add(2)
assert models.save_weights(name, weights) == 2
assert all(np.array_equal(a, b) for a, b in zip(models.load_weights(name), weights))
print("ok fallback")
