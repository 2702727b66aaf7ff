"""Mapped readers of the checkpoint/restart benchmark: one rank per process, on the runtimes' node.

argv: URLS DATASET VERSION ROWS COLS RANKS WRITERS
  URLS     the runtimes, comma separated
  WRITERS  for each row band, the index in URLS of the runtime it was published through
           (comma separated)
  RANKS    readers in a grid of 4 block columns; each asks every runtime holding bands its
           2-D block spans, one after the other, for the parts of its block (``POST .../parts``:
           one request per runtime, one lease, an shm tier file per band), maps them read-only
           (``numpy.memmap``), reads every value of its block in place (a sum over the mapped
           rows: no copy), checks every 35th value, then releases its leases.

Each rank is one thread, as the file readers are: its clients renew no lease (``renew=False``;
a rank is done well within a lease's 30 s), and it asks its runtimes in turn rather than from
a thread each. A second thread in a process makes every page it unmaps, or copies on write
after the fork, cost an inter-processor interrupt: with a thread per runtime and the lease
thread, 16 ranks read at two thirds of the speed on this machine's two cores.

Every process connects before a barrier; the time runs from the first rank's release to the
last rank's answer, read by the ranks themselves (_ranks.py), map requests and lease releases
included. Prints one JSON line: {seconds, verified}."""

import sys

import numpy as np

import strata
from _ranks import run_ranks

urls, dataset, version = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
rows, cols, ranks = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
writers = [int(w) for w in sys.argv[7].split(",")]
band_rows = rows // len(writers)


def read(k, start, out):
    grid_rows = ranks // 4
    h, w = rows // grid_rows, cols // 4
    r0, c0 = (k // 4) * h, (k % 4) * w
    first, last = r0 // band_rows, (r0 + h - 1) // band_rows
    holders = sorted({writers[b] for b in range(first, last + 1)})
    clients = {i: strata.Client(urls[i], map=True, renew=False) for i in holders}
    for c in clients.values():
        c.health()
    want_total = float(np.add.outer(np.arange(r0, r0 + h, dtype=np.float64) * 10_000,
                                    np.arange(c0, c0 + w, dtype=np.float64)).sum())
    block = {"r0": r0, "r1": r0 + h, "c0": c0, "c1": c0 + w}
    start.wait()
    ok = True
    total = 0.0
    seen = set()
    answers = [c.map_parts(dataset, "block", version=version, params=block)
               for c in clients.values()]
    for got in answers:
        for part in got.parts:
            b = part.bindings["r0"] // band_rows
            seen.add(b)
            a, z = max(r0, b * band_rows), min(r0 + h, (b + 1) * band_rows)
            rect = part.data[a - b * band_rows : z - b * band_rows, c0 : c0 + w]
            total += float(np.add.reduce(rect, axis=None))
            sample = rect[(7 - (a - r0) % 7) % 7 :: 7, ::5]
            first_row = a + (7 - (a - r0) % 7) % 7
            want = np.add.outer(np.arange(first_row, z, 7, dtype=np.float64) * 10_000,
                                np.arange(c0, c0 + w, 5))
            ok = ok and bool(np.array_equal(sample, want))
            del rect, sample
        del got
    del answers
    ok = ok and seen == set(range(first, last + 1))
    ok = ok and abs(total - want_total) <= 1e-9 * abs(want_total)
    for c in clients.values():
        c.close()
    out.put(ok)


if __name__ == "__main__":
    run_ranks(read, ranks)
