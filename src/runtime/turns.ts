/**
 * Keeps concurrent calls in call order at one point of their work, per key,
 * without making them wait for each other anywhere else: a runtime computes
 * the CRC-32 of several publishes at once, but registers them with the name
 * server in the order they were called, so that versions commit in that
 * order (bench/streaming_bench.ts: its consumer waits for each version in
 * turn).
 *
 * @module
 */

/** One call's place in line. */
export interface Turn {
  /** Resolves once every turn taken before under the same key has ended. */
  readonly ready: Promise<void>;
  /** Ends the turn (again: no effect), letting the next one go. */
  end(): void;
}

/**
 * Turns by key, in the order they are taken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Turns } from "./turns.ts";
 * const turns = new Turns();
 * const order: string[] = [];
 * const first = turns.take("particles");
 * const second = turns.take("particles");
 * const done = second.ready.then(() => order.push("second"));
 * order.push("first");
 * first.end();
 * await done;
 * assert.deepEqual(order, ["first", "second"]);
 * ```
 */
export class Turns {
  /** Per key, a promise that resolves once every turn taken so far has ended. */
  readonly #tails = new Map<string, Promise<void>>();

  /** Takes the next turn under `key`. */
  take(key: string): Turn {
    const ready = this.#tails.get(key) ?? Promise.resolve();
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const tail = Promise.all([ready, ended]).then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    this.#tails.set(key, tail);
    return { ready, end };
  }

  /** Keys with turns not ended yet (or just ended). */
  get size(): number {
    return this.#tails.size;
  }
}
