/**
 * Work run one after another per key (a model, an object), concurrently
 * across keys: what a service uses to keep the writes of one item in order
 * on the runtime its requests are routed to.
 *
 * @module
 */

/**
 * A queue per key; a key's queue is dropped once it has run dry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KeyedQueue } from "./keyed_queue.ts";
 * const q = new KeyedQueue();
 * const order: number[] = [];
 * await Promise.all([
 *   q.run("a", async () => { await new Promise((r) => setTimeout(r, 5)); order.push(1); }),
 *   q.run("a", () => { order.push(2); return Promise.resolve(); }),
 * ]);
 * assert.deepEqual(order, [1, 2]);
 * assert.equal(q.size, 0);
 * ```
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Keys with work queued or running. */
  get size(): number {
    return this.#tails.size;
  }

  /** Runs `fn` once the work queued before it under `key` has settled (failed or not). */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return run;
  }
}
