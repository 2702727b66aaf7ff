/**
 * A bound on the batch operations one process runs at once.
 *
 * Why: a thousand clients with 100 creates or publishes each put 100,000
 * operations in flight, each with its parsed input, promises and pending
 * write; every one of them outlived the young generation of the garbage
 * collector, which then spent a third of the process's time copying them,
 * and batched creates and publishes fell from 28-50k to 6-9k ops/s
 * (bench/registry_wrk_bench.ts). Requests over the bound wait, parsed but
 * not started, in arrival order. The data routes admit 2048 operations: two
 * atomics' worth for the group committer, one filling while one commits;
 * over HTTP with 1,024 clients of 100, 2048 and 1024 gave 48-50k publishes
 * and 56-63k creates per second, 4096 42k and 51k, 8192 35-40k and 43-50k.
 *
 * @module
 */

/**
 * Admits batch requests while fewer than `max` operations run; waiting
 * requests are admitted in arrival order. A request larger than `max` runs
 * alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BatchGate } from "./batch_gate.ts";
 * const gate = new BatchGate(100);
 * const first = await gate.enter(60);
 * let second = false;
 * const waiting = gate.enter(60).then((leave) => { second = true; return leave; });
 * await Promise.resolve();
 * assert.equal(second, false);
 * first();
 * (await waiting)();
 * assert.equal(second, true);
 * assert.equal(gate.running, 0);
 * ```
 */
export class BatchGate {
  readonly #max: number;
  readonly #waiting: { readonly n: number; readonly go: () => void; cancelled?: boolean }[] = [];
  #head = 0;
  /** Operations running now. */
  running = 0;

  /** A gate letting at most `max` operations run at once (an integer >= 1). */
  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`Invalid batch gate: expected an integer >= 1, received ${max}`);
    }
    this.#max = max;
  }

  /**
   * Waits until `n` operations may run; resolves with the function that
   * ends them. When the signal `signalOf` gives aborts first (the client
   * went away), the request leaves the line and this rejects with
   * `cancelled()`: nothing of it runs. The signal is asked for only when
   * the request has to wait (a request's signal costs a little to make).
   */
  async enter(
    n: number,
    signalOf?: () => AbortSignal,
    cancelled?: () => Error,
  ): Promise<() => void> {
    const weight = Math.min(Math.max(n, 1), this.#max);
    if (this.#head === this.#waiting.length && this.running + weight <= this.#max) {
      this.running += weight;
    } else {
      const signal = signalOf?.();
      await new Promise<void>((resolve, reject) => {
        const stop = () => {
          entry.cancelled = true;
          reject(cancelled?.() ?? signal!.reason);
        };
        const entry: { n: number; go: () => void; cancelled?: boolean } = {
          n: weight,
          go: () => {
            signal?.removeEventListener("abort", stop);
            resolve();
          },
        };
        if (signal?.aborted) return stop();
        signal?.addEventListener("abort", stop, { once: true });
        this.#waiting.push(entry);
      });
    }
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.running -= weight;
      this.#admit();
    };
  }

  #admit(): void {
    while (this.#head < this.#waiting.length) {
      const next = this.#waiting[this.#head]!;
      if (next.cancelled === true) {
        this.#head++;
        continue;
      }
      if (this.running + next.n > this.#max) break;
      this.running += next.n;
      this.#head++;
      next.go();
    }
    if (this.#head === this.#waiting.length) {
      this.#waiting.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#waiting.length) {
      this.#waiting.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
