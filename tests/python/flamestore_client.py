"""The Python FlameStore client against a running server (URL in argv[1]): register, save,
load, duplicate, the refusals, a model the TypeScript client saved (`from-ts`, whose
weights are float32 0, 1, 2, ... in its specs' shapes), and large weights staged through the
runtime's shm tier (argv[2] `shm`: the server has one). Prints one 'ok NAME' line per check."""

import sys

import numpy as np

import strata
from _checks import raises
from strata import flamestore


store = flamestore.Client(sys.argv[1])
rng = np.random.default_rng(3)
weights = [rng.standard_normal((8, 16)).astype(np.float32), np.zeros(16, np.float32),
           rng.standard_normal((16, 3)).astype(np.float32), np.arange(3, dtype=np.int32)]
topology = {"class_name": "Sequential", "config": {"layers": []}}

r = store.register_model("mlp", topology, weights, training_config={"loss": "mse"})
assert r["byteLength"] == (8 * 16 + 16 + 16 * 3 + 3) * 4 and r["saves"] == 0, r
e = raises(strata.ConflictError, store.register_model, "mlp", topology, weights)
assert e.status == 409
raises(strata.NotFoundError, store.load_weights, "mlp")  # registered, never saved
print("ok register")

assert store.save_weights("mlp", weights) == 1
back = store.load_weights("mlp")
assert [a.dtype for a in back] == [np.float32, np.float32, np.float32, np.int32]
assert all(np.array_equal(a, b) for a, b in zip(weights, back))
weights[1] += 1
assert store.save_weights("mlp", weights) == 2
assert np.array_equal(store.load_weights("mlp")[1], np.ones(16, np.float32))
assert store.reload_model("mlp")["trainingConfig"] == {"loss": "mse"}
print("ok save-load")

wrong = [np.zeros((16, 8), np.float32)] + weights[1:]  # another architecture
e = raises(strata.ConflictError, store.save_weights, "mlp", wrong)
assert "do not fit model 'mlp'" in e.message, e.message
assert np.array_equal(store.load_weights("mlp")[1], np.ones(16, np.float32))
raises(ValueError, store.save_weights, "mlp", [np.zeros(2, np.float64)])
raises(strata.InvalidRequestError, store.reload_model, "a/b")
print("ok refusals")

store.duplicate_model("mlp", "mlp-2")
raises(strata.ConflictError, store.duplicate_model, "mlp", "mlp-2")
assert all(np.array_equal(a, b) for a, b in zip(store.load_weights("mlp-2"), weights))
assert store.delete_model("mlp-2") is True and store.delete_model("mlp-2") is False
print("ok duplicate")

ts = store.load_weights("from-ts")
flat = np.concatenate([a.reshape(-1) for a in ts])
assert np.array_equal(flat, np.arange(flat.size, dtype=np.float32)), flat[:8]
assert [a.shape for a in ts] == [(3, 2), (2,)]
assert store.models() == ["from-ts", "mlp"]
print("ok interop")

big = [np.arange(3 << 20, dtype=np.float32), np.ones(7, dtype=np.int32)]
store.register_model("big", {"layers": 1}, big)
assert store.save_weights("big", big) == 1
# Staged on a node with an shm tier (the client keeps staging), sent otherwise.
assert store._stage is (sys.argv[2] == "shm"), store._stage
back = store.load_weights("big")
assert np.array_equal(back[0], big[0]) and np.array_equal(back[1], big[1])
print("ok staged")
