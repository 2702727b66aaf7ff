"""N writer ranks checkpoint their blocks of a 2-D field into Strata.

    mpirun -n 4 python3 examples/mpi/checkpoint.py [URL] [ROWS] [COLS] [VERSION]

Each rank owns one block of a ROWS x COLS float64 field (a 2-D decomposition from
MPI.Compute_dims) and publishes it as fragment ``block(r0, r1, c0, c1)`` of
dataset ``field``; the version commits itself once the blocks cover the field.
Value at (r, c): ``value(r, c, version)`` below, so a restart can check every one.
"""

import json
import os
import sys

import numpy as np
from mpi4py import MPI

import strata

DESCRIPTION = """dataset field {{ var t [{rows}, {cols}]float64 }}
fragment block(r0, r1, c0, c1) {{ var t = t[r0:r1, c0:c1] }}"""


def value(rows: np.ndarray, cols: np.ndarray, version: int) -> np.ndarray:
    """The field's value at each (row, col) of a checkpoint version."""
    return version * 1e6 + rows[:, None] * 1000.0 + cols[None, :]


def block_of(rank: int, size: int, rows: int, cols: int):
    """Bounds (r0, r1, c0, c1) of a rank's block in a 2-D decomposition of size ranks."""
    py, px = MPI.Compute_dims(size, 2)
    i, j = divmod(rank, px)
    r0, r1 = rows * i // py, rows * (i + 1) // py
    c0, c1 = cols * j // px, cols * (j + 1) // px
    return r0, r1, c0, c1


def main() -> None:
    comm = MPI.COMM_WORLD
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STRATA_URL", "http://127.0.0.1:7070")
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 512
    cols = int(sys.argv[3]) if len(sys.argv) > 3 else 384
    version = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    client = strata.connect(url)
    if comm.rank == 0:
        try:
            client.create_dataset("field", DESCRIPTION.format(rows=rows, cols=cols), durable=True)
        except strata.ConflictError:
            pass  # a later checkpoint of the same field
    comm.Barrier()
    r0, r1, c0, c1 = block_of(comm.rank, comm.size, rows, cols)
    block = value(np.arange(r0, r1), np.arange(c0, c1), version)
    t = MPI.Wtime()
    done = client.publish("field", version, "block", block,
                          params={"r0": r0, "r1": r1, "c0": c0, "c1": c1})
    committed = comm.allreduce(1 if done["committed"] else 0, op=MPI.SUM)
    seconds = comm.reduce(MPI.Wtime() - t, op=MPI.MAX)
    if comm.rank == 0:
        # Exactly one publish completes the coverage and commits the version.
        print(json.dumps({"writers": comm.size, "version": version, "committed": committed,
                          "bytes": rows * cols * 8, "seconds": seconds}), flush=True)
    client.close()


if __name__ == "__main__":
    main()
