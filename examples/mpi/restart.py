"""M reader ranks restart from a checkpoint of the 2-D field, each its own block.

    mpirun -n 2 python3 examples/mpi/restart.py [URL] [ROWS] [COLS] [VERSION]

The readers' decomposition need not be the writers': each rank attaches fragment
``block(r0, r1, c0, c1)`` of its own bounds, which the runtime gathers from the
writers' blocks, and checks every value. Rank 0 prints the totals as JSON.
"""

import json
import os
import sys

import numpy as np
from mpi4py import MPI

import strata
from checkpoint import block_of, value


def main() -> None:
    comm = MPI.COMM_WORLD
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STRATA_URL", "http://127.0.0.1:7070")
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 512
    cols = int(sys.argv[3]) if len(sys.argv) > 3 else 384
    version = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    client = strata.connect(url)
    r0, r1, c0, c1 = block_of(comm.rank, comm.size, rows, cols)
    t = MPI.Wtime()
    block = client.attach("field", "block", version=version, wait=60,
                          params={"r0": r0, "r1": r1, "c0": c0, "c1": c1})
    seconds = comm.reduce(MPI.Wtime() - t, op=MPI.MAX)
    expected = value(np.arange(r0, r1), np.arange(c0, c1), version)
    assert block.shape == expected.shape, (block.shape, expected.shape)
    wrong = int(np.count_nonzero(block != expected))
    checked = comm.reduce(block.size, op=MPI.SUM)
    wrong = comm.reduce(wrong, op=MPI.SUM)
    if comm.rank == 0:
        print(json.dumps({"readers": comm.size, "version": version, "values": checked,
                          "wrong": wrong, "seconds": seconds}), flush=True)
    client.close()


if __name__ == "__main__":
    main()
