"""FlameStore from Python: register a model, save and load its weights as numpy arrays,
reload its architecture, duplicate it, over the service's
``POST /v1/services/flamestore/<operation>`` routes with msgpack bodies.

Weights are a list of numpy arrays (a Keras model's ``get_weights()``), described by
TensorFlow.js's weight specs (name, shape, dtype), so a model saved here loads in the
TypeScript client and in TensorFlow.js, and one saved there loads here. Needs ``msgpack``
(Debian: ``apt-get install python3-msgpack``).

>>> from strata import flamestore
>>> store = flamestore.Client("http://127.0.0.1:7070")             # doctest: +SKIP
>>> store.register_model("mlp", topology, weights)                    # doctest: +SKIP
>>> store.save_weights("mlp", weights)                                # doctest: +SKIP
>>> store.load_weights("mlp")[0].shape                                # doctest: +SKIP
(8, 16)
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ._service import ServiceClient

# TensorFlow.js's dtypes and numpy's (little-endian).
_DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("bool"),
           "complex64": np.dtype("<c8")}


def weight_specs(arrays: Sequence[Any], names: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    """TensorFlow.js weight specs of ``arrays`` (float32, int32, bool or complex64), named
    ``names`` or ``weight_0``, ``weight_1``, ..."""
    specs = []
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        dtype = next((k for k, v in _DTYPES.items() if v == a.dtype.newbyteorder("<")), None)
        if dtype is None:
            raise ValueError(f"Weight {i} has dtype {a.dtype}: expected float32, int32, bool or complex64")
        specs.append({"name": names[i] if names else f"weight_{i}", "shape": list(a.shape), "dtype": dtype})
    return specs


#: Weights under this many bytes that a client knows of are loaded in the answer, not in place.
_LEASE_FROM_BYTES = 4 << 20

#: Models whose weights' size a client keeps, at most.
_SIZES_KEPT = 4096


class Client(ServiceClient):
    """A connection to a FlameStore service (``service``: its name in the server's config)."""

    def __init__(self, url: str, *, token: Optional[str] = None, timeout: Optional[float] = 60.0,
                 service: str = "flamestore", stage: bool = True):
        super().__init__(url, service, token=token, timeout=timeout, stage=stage)
        # Bytes of the weights of models this client saved or loaded (at most _SIZES_KEPT).
        self._sizes: Dict[str, int] = {}

    def _remember(self, name: str, size: int) -> None:
        if len(self._sizes) >= _SIZES_KEPT and name not in self._sizes:
            self._sizes.clear()
        self._sizes[name] = size

    def register_model(self, name: str, topology: Any, weights: Sequence[Any], *,
                       training_config: Any = None, names: Optional[Sequence[str]] = None) -> Dict[str, Any]:
        """Registers model ``name``: its architecture (any JSON value; Keras's ``to_json()``
        parsed), training setup, and the shape of its weights, read from ``weights`` (arrays,
        or TensorFlow.js weight specs). ``ConflictError`` when the name is taken."""
        specs = list(weights) if weights and isinstance(weights[0], dict) else weight_specs(weights, names)
        return self.call("register", {"name": name, "topology": topology,
                                      "trainingConfig": training_config, "weightSpecs": specs})

    def reload_model(self, name: str) -> Dict[str, Any]:
        """The model's record: topology, trainingConfig, weightSpecs, signature, saves."""
        return self.call("reload", {"name": name})

    def save_weights(self, name: str, weights: Sequence[Any]) -> int:
        """Saves the arrays as the model's weights, replacing the last save (checked against
        its registered shapes and dtypes: ``ConflictError`` when they differ). Answers how
        many saves the model has had."""
        specs = weight_specs(weights)
        arrays = [np.ascontiguousarray(np.asarray(a), dtype=_DTYPES[s["dtype"]])
                  for a, s in zip(weights, specs)]
        size = sum(a.nbytes for a in arrays)

        def write(f: Any) -> None:
            for a in arrays:
                f.write(memoryview(a).cast("B"))

        # Sent to the runtime of the model's target, which stores and orders its saves; on its
        # node, large weights go through its shm tier: it stores the file as is.
        runtime = self.runtime_of_key(name.encode())
        stage = self.stage(size, write, runtime)
        if stage is not None:
            body = {"name": name, "stage": stage, "weightSpecs": specs}
            saves = int(self.call("save", body, runtime)["saves"])
        else:
            data = b"".join(a.tobytes() for a in arrays)
            body = {"name": name, "data": data, "weightSpecs": specs}
            saves = int(self.call("save", body, runtime)["saves"])
        self._remember(name, size)
        return saves

    def load_weights(self, name: str) -> List[np.ndarray]:
        """The arrays saved last, shaped and typed as the model's weight specs say. On the node
        of the model's runtime (``stage=True``), read in place from the file that runtime leases
        on its shm tier (``lease``), released once read; otherwise sent in the answer (weights
        this client knows to be under 4 MiB: a lease and its release are two requests)."""
        runtime = self.runtime_of_key(name.encode())
        got: Optional[Dict[str, Any]] = None
        if self.reads_on(runtime) and self._sizes.get(name, _LEASE_FROM_BYTES) >= _LEASE_FROM_BYTES:
            found = self.call_leasing("lease", {"name": name}, runtime)
            read = None if found is None else self.read_leased(runtime, [found["weights"]])
            if read is not None and read[0][0] is not None:
                got = {"data": read[0][0], "weightSpecs": found["weightSpecs"]}
        if got is None:
            got = self.call("load", {"name": name}, runtime)
        data = memoryview(got["data"])
        self._remember(name, data.nbytes)
        out, at = [], 0
        for s in got["weightSpecs"]:
            if "quantization" in s:
                raise ValueError(f"Weight '{s['name']}' is quantized: load it through TensorFlow.js")
            dtype = _DTYPES[s["dtype"]]
            count = int(np.prod(s["shape"], dtype=np.int64))
            out.append(np.frombuffer(data[at:at + count * dtype.itemsize], dtype=dtype).reshape(s["shape"]).copy())
            at += count * dtype.itemsize
        return out

    def duplicate_model(self, source: str, name: str) -> Dict[str, Any]:
        """Registers ``name`` as a copy of ``source``, weights included."""
        return self.call("duplicate", {"source": source, "name": name})

    def delete_model(self, name: str) -> bool:
        """Deletes the model and its weights; False when there was none."""
        return bool(self.call("delete", {"name": name})["deleted"])

    def models(self, after: Optional[str] = None, limit: int = 1000) -> List[str]:
        """Model names in name order."""
        body: Dict[str, Any] = {"limit": limit}
        if after is not None:
            body["after"] = after
        return list(self.call("list", body)["models"])
