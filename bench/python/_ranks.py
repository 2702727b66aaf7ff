"""Ranks of the restart benchmark's Python side: processes that start together."""

import json
import multiprocessing as mp
import time


class _Start:
    """The ranks' barrier; a rank's `wait()` also notes when it was released."""

    def __init__(self, barrier):
        self._barrier = barrier
        self.released = None

    def wait(self):
        self._barrier.wait()
        self.released = time.perf_counter()


class _Out:
    """A rank's answer: its value, with when it was released and when it answered."""

    def __init__(self, queue, start):
        self._queue = queue
        self._start = start

    def put(self, value):
        self._queue.put((value, self._start.released, time.perf_counter()))


def _rank(target, k, barrier, queue):
    start = _Start(barrier)
    target(k, start, _Out(queue, start))


def run_ranks(target, ranks):
    """Forks `ranks` processes running target(rank, start, out), releases them
    at once, and prints the seconds from the first rank's release to the last
    rank's answer, and whether all reported their values verified, as one JSON
    line.

    The ranks time themselves (time.perf_counter is CLOCK_MONOTONIC, one
    clock for every process): with more ranks than cores, the parent can be
    scheduled after the barrier only once ranks have done much of their work,
    so a clock read by the parent after the barrier would start late."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(ranks)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_rank, args=(target, k, barrier, queue)) for k in range(ranks)]
    for p in procs:
        p.start()
    answers = [queue.get() for _ in range(ranks)]
    for p in procs:
        p.join()
    verified = all(ok for ok, _, _ in answers)
    seconds = max(end for _, _, end in answers) - min(t0 for _, t0, _ in answers)
    print(json.dumps({"seconds": seconds, "verified": verified}))
