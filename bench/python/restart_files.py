"""File baselines of the checkpoint/restart benchmark: one rank per process.

argv: MODE FORMAT DIR ROWS COLS RANKS
  MODE   write: rank k writes row band k of a ROWS x COLS float64 field (value r * 10000 + c)
                to its own file and fsyncs it;
         read:  RANKS readers in a grid of 4 block columns read their 2-D block from the
                bands it spans, and check every 35th value.
  FORMAT posix (raw bytes, pwrite/preadv) or h5 (one contiguous dataset 't' per file, h5py).

Every process prepares (builds its band, opens its files) before a barrier; the time runs
from the first rank's release to the last rank's answer, read by the ranks themselves
(_ranks.py). Prints one JSON line: {seconds, verified}."""

import os
import sys

import numpy as np
from _ranks import run_ranks

mode, fmt, folder = sys.argv[1], sys.argv[2], sys.argv[3]
rows, cols, ranks = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
WRITERS = 16
band_rows = rows // WRITERS


def path(k):
    return os.path.join(folder, f"band-{k}.{'bin' if fmt == 'posix' else 'h5'}")


def band(k):
    r = np.arange(k * band_rows, (k + 1) * band_rows, dtype=np.float64) * 10_000
    return np.add.outer(r, np.arange(cols, dtype=np.float64))


def write(k, start, out):
    data = band(k)
    start.wait()
    if fmt == "posix":
        fd = os.open(path(k), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        mv = memoryview(data).cast("B")
        done = 0
        while done < len(mv):
            done += os.pwrite(fd, mv[done:], done)
        os.fsync(fd)
        os.close(fd)
    else:
        import h5py

        with h5py.File(path(k), "w") as f:
            f.create_dataset("t", data=data)
        fd = os.open(path(k), os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    out.put(True)


def read(k, start, out):
    grid_rows = ranks // 4
    h, w = rows // grid_rows, cols // 4
    r0, c0 = (k // 4) * h, (k % 4) * w
    block = np.empty((h, w), dtype=np.float64)
    first, last = r0 // band_rows, (r0 + h - 1) // band_rows
    if fmt == "h5":
        import h5py

        files = {b: h5py.File(path(b), "r") for b in range(first, last + 1)}
    else:
        files = {b: os.open(path(b), os.O_RDONLY) for b in range(first, last + 1)}
    start.wait()
    for b, f in files.items():
        a, z = max(r0, b * band_rows), min(r0 + h, (b + 1) * band_rows)
        if fmt == "h5":
            f["t"].read_direct(
                block, np.s_[a - b * band_rows : z - b * band_rows, c0 : c0 + w], np.s_[a - r0 : z - r0, :]
            )
        else:
            mv = memoryview(block).cast("B")
            for r in range(a, z):
                dst = mv[(r - r0) * w * 8 : (r - r0 + 1) * w * 8]
                os.preadv(f, [dst], ((r - b * band_rows) * cols + c0) * 8)
    sample = block[::7, ::5]
    want = np.add.outer(np.arange(r0, r0 + h, 7, dtype=np.float64) * 10_000, np.arange(c0, c0 + w, 5))
    ok = bool(np.array_equal(sample, want))
    for f in files.values():
        f.close() if fmt == "h5" else os.close(f)
    out.put(ok)


if __name__ == "__main__":
    run_ranks(write if mode == "write" else read, ranks)
