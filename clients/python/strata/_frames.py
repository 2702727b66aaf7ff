"""Framed bodies of the services' bytes operations (``src/services/frames.ts``): a 4-byte
big-endian header length, a msgpack header whose ``sizes`` lists each part's length (None: no
part), then the parts back to back, raw, never inside msgpack."""

from __future__ import annotations

import struct
from typing import Any, Dict, List, Optional, Sequence, Tuple

import msgpack

#: The media type of framed bodies.
OCTET_STREAM = "application/octet-stream"


def frame(header: Dict[str, Any], parts: Sequence[Optional[Any]]) -> List[Any]:
    """The pieces of a framed body (the header, then the parts as they are): send them one
    after the other."""
    views = [None if p is None else memoryview(p).cast("B") for p in parts]
    head = msgpack.packb({**header, "sizes": [None if v is None else v.nbytes for v in views]},
                         use_bin_type=True)
    return [struct.pack(">I", len(head)) + head] + [v for v in views if v is not None and v.nbytes]


def unframe(body: bytes) -> Tuple[Dict[str, Any], List[Optional[memoryview]]]:
    """A framed body's header and parts (views of ``body``); ValueError when it is not one."""
    view = memoryview(body)
    if view.nbytes < 4:
        raise ValueError("Invalid framed body: shorter than its header length")
    (n,) = struct.unpack_from(">I", view, 0)
    if 4 + n > view.nbytes:
        raise ValueError(f"Invalid framed body: a header of {n} bytes in {view.nbytes}")
    header = msgpack.unpackb(view[4:4 + n], raw=False)
    at = 4 + n
    parts: List[Optional[memoryview]] = []
    for size in header.get("sizes", []):
        if size is None:
            parts.append(None)
            continue
        parts.append(view[at:at + size])
        at += size
    if at != view.nbytes:
        raise ValueError(f"Invalid framed body: its parts add up to {at - 4 - n} bytes, "
                         f"{view.nbytes - 4 - n} follow the header")
    return header, parts
