"""Ranks of the restart benchmark's Python side: processes that start together."""

import json
import multiprocessing as mp
import time


def run_ranks(target, ranks):
    """Forks `ranks` processes running target(rank, start, out), releases them
    at once, and prints the seconds until every one reported, and whether all
    reported their values verified, as one JSON line."""
    ctx = mp.get_context("fork")
    start = ctx.Barrier(ranks + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(k, start, out)) for k in range(ranks)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    verified = all(out.get() for _ in range(ranks))
    seconds = time.perf_counter() - t0
    for p in procs:
        p.join()
    print(json.dumps({"seconds": seconds, "verified": verified}))
