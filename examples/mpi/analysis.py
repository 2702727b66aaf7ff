"""In-transit analysis on MPI ranks: the ranks share the steps of a running simulation as one
consumer group, each committed version handed to exactly one of them.

    mpirun -n 3 python3 examples/mpi/analysis.py [URL] [DATASET] [FRAGMENT] [TIMEOUT]

Every rank streams fragment FRAGMENT (default ``xyz``, columns x, y, z) of DATASET (default
``particles``) from version 1 with ``group="analysis"`` and ``assign="round-robin"``: the name
server hands each version to one member, and each rank's runtime pushes its versions over one
response, fetching the next while the rank works. A rank reduces each version it gets (the mean
of x) and stops when no version came for TIMEOUT seconds (default 3). Rank 0 then gathers what
every rank took, checks that no version went to two ranks, and prints one JSON line:
``{"ranks", "versions", "perRank", "duplicates", "means"}``. Rank 0 prints ``ready`` once every
rank has opened its stream (joined the group): a producer started after that shares its versions
among all the ranks from the first one.
"""

import json
import os
import sys

from mpi4py import MPI

import strata

comm = MPI.COMM_WORLD
url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STRATA_URL", "http://127.0.0.1:7070")
dataset = sys.argv[2] if len(sys.argv) > 2 else "particles"
fragment = sys.argv[3] if len(sys.argv) > 3 else "xyz"
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0

client = strata.connect(url)
stream = client.stream(dataset, fragment, start=1, timeout=timeout, ahead=1,
                       group="analysis", assign="round-robin")
stream.open()
comm.Barrier()
if comm.rank == 0:
    print("ready", flush=True)

taken = {}
for version, cols in stream:
    taken[version] = float(cols["x"].mean())
stream.close()

everything = comm.gather(taken, root=0)
if comm.rank == 0:
    seen = {}
    duplicates = 0
    for mine in everything:
        for version, mean in mine.items():
            duplicates += version in seen
            seen[version] = mean
    print(json.dumps({
        "ranks": comm.size,
        "versions": sorted(seen),
        "perRank": [len(mine) for mine in everything],
        "duplicates": duplicates,
        "means": {str(v): seen[v] for v in sorted(seen)},
    }), flush=True)
