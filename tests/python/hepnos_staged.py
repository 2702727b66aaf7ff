"""The Python HEPnOS client on the node of a runtime with an shm tier: a batch of large
products is staged there and stored as one pack (argv[1] the server's URL). Prints 'ok NAME'."""

import sys

from strata import hepnos

store = hepnos.DataStore.connect(sys.argv[1])
sub = store.root.create_dataset("py-staged").create_run(1).create_subrun(1)
events = [sub.create_event(i) for i in range(8)]
# 8 products of 1.25 MiB: one batch of 10 MiB, past the size clients stage from.
values = [bytes((k * 7 + i) & 0xFF for k in range(256)) * (5 << 10) for i in range(8)]
stored = store.store_products([(e.descriptor, "p", "bytes", v) for e, v in zip(events, values)])
assert stored == [True] * 8, stored
assert store._stage and not store._no_stage, store._no_stage
print("ok staged")
got = store.load_products([{"item": e.descriptor, "label": "p", "type": "bytes"} for e in events])
assert got == values
# Read in place from the leased pack (the client kept doing so), a range too.
assert not store._no_read, store._no_read
part = store.load_products([{"item": events[3].descriptor, "label": "p", "type": "bytes",
                             "offset": 100, "length": 50}])
assert part == [values[3][100:150]], part
print("ok read in place")
# Stored again: the service keeps the first values, and says so per product.
again = store.store_products([(e.descriptor, "p", "bytes", v[::-1]) for e, v in zip(events, values)])
assert again == [False] * 8, again
print("ok kept")

# FlameStore on the same node: weights saved through a stage, loaded in place from their file.
import numpy as np  # noqa: E402

from strata import flamestore  # noqa: E402

models = flamestore.Client(sys.argv[1])
weights = [np.arange(3 << 20, dtype=np.float32), np.arange(6, dtype=np.int32).reshape(2, 3)]
models.register_model("py-staged", {}, weights)
assert models.save_weights("py-staged", weights) == 1
loaded = models.load_weights("py-staged")
assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(loaded, weights))
assert models.reads_on(models.runtime_of_key(b"py-staged")), models._no_read
print("ok flamestore read in place")
# Weights this client knows to be small come in the answer: no lease taken.
small = [np.arange(1 << 18, dtype=np.float32)]
models.register_model("py-small", {}, small)
models.save_weights("py-small", small)
assert np.array_equal(models.load_weights("py-small")[0], small[0])
print("ok flamestore small")
