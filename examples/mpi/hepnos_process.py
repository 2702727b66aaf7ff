"""HEPnOS's parallel event processor on MPI ranks, through Strata's HEPnOS service.

    mpirun -n 4 python3 examples/mpi/hepnos_process.py [URL] [JOB] [RUNS] [SUBRUNS] [EVENTS]

Rank 0 fills dataset JOB with RUNS x SUBRUNS x EVENTS events, each with a product
``energy`` (one float64), in write batches. Then every rank processes its share of
the events (``ParallelEventProcessor``: its own loader's first, then stealing from
the others), the product preloaded with each event, and rank 0 gathers what each
rank saw and checks that every event was processed exactly once with its product.
Rank 0 prints one JSON line.
"""

import json
import sys
import time

import numpy as np
from mpi4py import MPI

from strata import hepnos

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7070"
job = sys.argv[2] if len(sys.argv) > 2 else "pep"
runs, subruns, events = (int(a) for a in (sys.argv[3:6] if len(sys.argv) > 5 else ("2", "4", "25")))

store = hepnos.DataStore.connect(url)


def energy(r: int, s: int, e: int) -> float:
    """The product of event (r, s, e), so rank 0 can check each one."""
    return r * 1e6 + s * 1e3 + e + 0.5


if rank == 0:
    dataset = store.root.create_dataset(job)
    with hepnos.WriteBatch(store, max_batch_size=128) as batch:
        for r in range(runs):
            run = dataset.create_run(r, batch=batch)
            for s in range(subruns):
                sub = run.create_subrun(s, batch=batch)
                for e in range(events):
                    ev = sub.create_event(e, batch=batch)
                    ev.store_array("energy", np.array([energy(r, s, e)]), batch=batch)
comm.Barrier()

dataset = store.root[job]
pep = hepnos.ParallelEventProcessor(store, job, rank, size, input_batch_size=8, output_batch_size=4)
pep.preload("energy", "Float64Array")
seen = []
t0 = time.perf_counter()


def process(event, products):
    value = np.frombuffer(products[("energy", "Float64Array")], dtype=np.float64)[0]
    seen.append((event.run, event.subrun, event.number, value == energy(event.run, event.subrun, event.number)))


processed = pep.process(dataset, process)
seconds = time.perf_counter() - t0
everything = comm.gather(seen, root=0)
counts = comm.gather(processed, root=0)
if rank == 0:
    flat = [s for part in everything for s in part]
    keys = [(r, s, e) for r, s, e, _ in flat]
    want = {(r, s, e) for r in range(runs) for s in range(subruns) for e in range(events)}
    print(json.dumps({
        "ranks": size,
        "events": len(want),
        "processed": counts,
        "duplicates": len(keys) - len(set(keys)),
        "missing": len(want - set(keys)),
        "unexpected": len(set(keys) - want),
        "wrongProducts": sum(1 for *_, ok in flat if not ok),
        "seconds": round(seconds, 3),
    }))
