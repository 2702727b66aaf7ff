/**
 * The locks of a tier set: one chain per key (its stores, flushes and
 * deletes run one at a time) and one lock for spilling.
 *
 * @module
 */

/**
 * Runs the tasks of each key one at a time, in the order they came.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KeyChains } from "./_locks.ts";
 * const chains = new KeyChains();
 * const order: number[] = [];
 * const slow = chains.run("k", async () => { await new Promise((r) => setTimeout(r, 5)); order.push(1); });
 * await chains.run("k", () => Promise.resolve(order.push(2)));
 * await slow;
 * assert.deepEqual(order, [1, 2]);
 * ```
 */
export class KeyChains {
  /** Per key, the tail of its tasks. */
  readonly #chains = new Map<string, Promise<unknown>>();

  /** Runs `fn` after the tasks of `key` queued before it. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.#chains.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => {});
    this.#chains.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#chains.get(key) === tail) this.#chains.delete(key);
    }
  }
}

/**
 * Runs tasks one at a time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Mutex } from "./_locks.ts";
 * const lock = new Mutex();
 * assert.equal(await lock.run(() => Promise.resolve(7)), 7);
 * ```
 */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` once the tasks before it have finished. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn);
    this.#tail = run.catch(() => {});
    return await run;
  }
}
