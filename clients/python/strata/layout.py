"""Numpy views of fragment bytes, from the layout the server describes.

A layout (``strata-layout`` header of an attach, ``layout`` of a map or of
``POST /v1/describe``) lists variable slots; each slot walks ``axes`` (its
shape) and stores leaf ``fields`` at a byte ``offset`` with byte ``strides``
per axis. This module turns one into numpy views over a buffer, copying
nothing:

* one scalar field (``path`` ``""``): an N-D array of that scalar;
* fields that share their strides (an array of structs): one N-D array of a
  structured dtype (nested structs for dotted paths);
* fields with their own strides (columnar): a dict of column arrays;
* several slots: a dict of the above by slot name.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple, Union

import numpy as np

NUMERIC = {
    "int8": "<i1", "int16": "<i2", "int32": "<i4", "int64": "<i8",
    "uint8": "<u1", "uint16": "<u2", "uint32": "<u4", "uint64": "<u8",
    "float32": "<f4", "float64": "<f8", "bool": "?",
}

#: What ``view`` answers: an array, or a dict of arrays (columns, or slots).
Viewed = Union[np.ndarray, Dict[str, Any]]


def scalar_dtype(t: Any) -> np.dtype:
    """The numpy dtype of a layout's scalar type (a DRepl string: length then bytes)."""
    if isinstance(t, str):
        try:
            return np.dtype(NUMERIC[t])
        except KeyError:
            raise ValueError(f"Unknown scalar type '{t}'") from None
    if isinstance(t, dict) and t.get("kind") == "string":
        return np.dtype([("length", "<i2"), ("chars", f"S{int(t['size']) - 2}")])
    raise ValueError(f"Unknown scalar type {t!r}")


def _field_dtype(f: Dict[str, Any]) -> np.dtype:
    dt = scalar_dtype(f["type"])
    count = int(f.get("count", 1))
    return dt if count == 1 else np.dtype((dt, (count,)))


def _struct(entries: List[Tuple[List[str], np.dtype, int]]) -> Tuple[np.dtype, int]:
    """A structured dtype of (path parts, dtype, offset) entries; returns it and its base offset."""
    base = min(off for _, _, off in entries)
    names: List[str] = []
    formats: List[Any] = []
    offsets: List[int] = []
    groups: Dict[str, List[Tuple[List[str], np.dtype, int]]] = {}
    order: List[str] = []
    for parts, dt, off in entries:
        if len(parts) == 1:
            names.append(parts[0])
            formats.append(dt)
            offsets.append(off - base)
        else:
            if parts[0] not in groups:
                groups[parts[0]] = []
                order.append(parts[0])
                names.append(parts[0])
                formats.append(None)
                offsets.append(0)
            groups[parts[0]].append((parts[1:], dt, off))
    for name in order:
        sub, sub_base = _struct(groups[name])
        i = names.index(name)
        formats[i] = sub
        offsets[i] = sub_base - base
    end = max(o + np.dtype(f).itemsize for o, f in zip(offsets, formats))
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": end})
    return dtype, base


def _check(buffer_len: int, shape: Tuple[int, ...], strides: Tuple[int, ...],
           offset: int, itemsize: int) -> None:
    if any(s < 0 for s in strides):
        raise ValueError("Negative strides are not supported")
    last = offset + itemsize + sum((n - 1) * s for n, s in zip(shape, strides) if n > 0)
    if any(n == 0 for n in shape):
        last = 0
    if last > buffer_len:
        raise ValueError(f"The layout reaches byte {last}, past the buffer's {buffer_len}")


def _array(buf: Any, shape: Tuple[int, ...], dtype: np.dtype, offset: int,
           strides: Tuple[int, ...], buffer_len: int) -> np.ndarray:
    _check(buffer_len, shape, strides, offset, dtype.itemsize)
    if any(n == 0 for n in shape):
        return np.empty(shape, dtype)
    return np.ndarray(shape, dtype, buffer=buf, offset=offset, strides=strides)


def slot_view(slot: Dict[str, Any], buf: Any, buffer_len: int) -> Viewed:
    """The numpy view of one slot of a layout over ``buf`` (any object with the buffer protocol)."""
    shape = tuple(int(a["count"]) for a in slot["axes"])
    fields = slot["fields"]
    if len(fields) == 1 and fields[0]["path"] == "":
        f = fields[0]
        return _array(buf, shape, _field_dtype(f), int(f["offset"]), tuple(f["strides"]),
                      buffer_len)
    strides = tuple(fields[0]["strides"])
    if all(tuple(f["strides"]) == strides for f in fields):
        dtype, base = _struct([(f["path"].split("."), _field_dtype(f), int(f["offset"]))
                               for f in fields])
        if shape and strides[-1] > dtype.itemsize:
            # Padding to the innermost stride makes a packed array of structs contiguous.
            dtype = np.dtype({"names": dtype.names, "formats": [dtype.fields[n][0] for n in dtype.names],
                              "offsets": [dtype.fields[n][1] for n in dtype.names],
                              "itemsize": strides[-1]})
        # An element must not overlap the next one along any axis.
        if all(s >= dtype.itemsize for s, n in zip(strides, shape) if n > 1):
            return _array(buf, shape, dtype, base, strides, buffer_len)
    return {f["path"]: _array(buf, shape, _field_dtype(f), int(f["offset"]), tuple(f["strides"]),
                              buffer_len) for f in fields}


def view(layout: Dict[str, Any], buf: Any) -> Viewed:
    """Numpy views of ``buf`` in ``layout``: an array, or a dict (columns, or slots by name)."""
    n = memoryview(buf).nbytes
    if n != int(layout["byteLength"]):
        raise ValueError(f"Expected {layout['byteLength']} bytes for the layout, found {n}")
    slots = layout["slots"]
    if len(slots) == 1:
        return slot_view(slots[0], buf, n)
    return {s["name"]: slot_view(s, buf, n) for s in slots}


def empty(layout: Dict[str, Any]) -> Viewed:
    """A new zeroed buffer in ``layout``, as its views (fill it, then publish or attach into it)."""
    return view(layout, np.zeros(int(layout["byteLength"]), np.uint8))


def buffer_of(data: Any, byte_length: int = -1) -> memoryview:
    """The bytes under ``data``: a buffer, an array, or the views ``view``/``empty`` made.

    A dict of views (columns, slots) gives the one buffer they share. An array
    that is not contiguous is copied into one that is.
    """
    if isinstance(data, dict):
        roots = {id(r): r for r in (_root(v) for v in _leaves(data))}
        if len(roots) != 1:
            raise ValueError("Expected views of one buffer (as view() or empty() makes them)")
        root = next(iter(roots.values()))
        mv = memoryview(root).cast("B")
    elif isinstance(data, np.ndarray):
        if byte_length >= 0 and (data.nbytes != byte_length or not data.flags.c_contiguous):
            root = _root(data)
            if root is not data and memoryview(root).nbytes == byte_length:
                return memoryview(root).cast("B")
        if not data.flags.c_contiguous:
            data = np.ascontiguousarray(data)
        mv = memoryview(data.reshape(-1).view(np.uint8)) if data.ndim else memoryview(
            data.reshape(1).view(np.uint8))
    else:
        mv = memoryview(data).cast("B")
    if byte_length >= 0 and mv.nbytes != byte_length:
        raise ValueError(f"Expected {byte_length} bytes, found {mv.nbytes}")
    return mv


def _leaves(d: Dict[str, Any]):
    for v in d.values():
        if isinstance(v, dict):
            yield from _leaves(v)
        else:
            yield v


def _root(a: Any) -> Any:
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a
