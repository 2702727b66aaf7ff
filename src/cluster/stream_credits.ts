/**
 * Flow control of subscription streams whose policy is `block`: the name
 * server writes at most `limit` versions a runtime has not said it took,
 * so a slow consumer's versions wait in the name server's queue, which
 * holds the dataset's commits, rather than in socket buffers between the
 * two. The runtime reports what its consumer took with `POST
 * /v1/cluster/subscriptions/:id/taken`.
 *
 * @module
 */

import { BusyError, NotFoundError } from "../errors.ts";

/** One stream's credit: versions written and versions its runtime reported taken. */
export class StreamCredit {
  readonly limit: number;
  #sent = 0;
  #taken = 0;
  #wake: (() => void) | undefined;

  /** A stream that may have `limit` versions untaken at its runtime. */
  constructor(limit: number) {
    this.limit = limit;
  }

  /**
   * Resolves true once one more version may be written; false when
   * `signal` aborts or `timeoutMs` passes first (the stream then sends a
   * heartbeat, so that its runtime tells a consumer that takes its time
   * from a name server that went silent).
   */
  async ready(signal?: AbortSignal, timeoutMs = Infinity): Promise<boolean> {
    const until = performance.now() + timeoutMs;
    while (this.#sent - this.#taken >= this.limit) {
      const left = until - performance.now();
      if (signal?.aborted === true || left <= 0) return false;
      let onAbort = () => {};
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        onAbort = () => resolve();
        signal?.addEventListener("abort", onAbort, { once: true });
        if (left !== Infinity) timer = setTimeout(resolve, left);
      });
      // Each wait's listener and timer go with it: a long stream waits many times.
      signal?.removeEventListener("abort", onAbort);
      clearTimeout(timer);
      this.#wake = undefined;
    }
    return true;
  }

  /** Counts a version written. */
  sent(): void {
    this.#sent++;
  }

  /** Counts `count` versions the runtime took (never more than were written). */
  took(count: number): void {
    this.#taken = Math.min(this.#sent, this.#taken + count);
    this.#wake?.();
  }
}

/**
 * The credits of the open `block` streams, by the id each runtime chose.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamCredits } from "./stream_credits.ts";
 * const credits = new StreamCredits();
 * const credit = credits.open("a1", 1);
 * await credit.ready();
 * credit.sent();
 * let next = false;
 * const waiting = credit.ready().then(() => (next = true));
 * await new Promise((r) => setTimeout(r, 5));
 * assert.equal(next, false);
 * credits.took("a1", 1);
 * await waiting;
 * credits.close("a1");
 * ```
 */
export class StreamCredits {
  readonly #open = new Map<string, StreamCredit>();
  readonly #max: number;

  /** At most `max` streams at once (default 4096). */
  constructor(max = 4096) {
    this.#max = max;
  }

  /** Opens the credit of stream `id`; `BusyError` past the bound, 409-like `BusyError` for an id in use. */
  open(id: string, limit: number): StreamCredit {
    if (this.#open.has(id)) {
      throw new BusyError(`Subscription stream '${id}' is open already: choose another id`);
    }
    if (this.#open.size >= this.#max) {
      throw new BusyError(
        `${this.#max} subscription streams with policy block are open: try again later`,
      );
    }
    const credit = new StreamCredit(limit);
    this.#open.set(id, credit);
    return credit;
  }

  /** Reports that stream `id`'s consumer took `count` versions; `NotFoundError` for no such stream. */
  took(id: string, count: number): void {
    const credit = this.#open.get(id);
    if (credit === undefined) {
      throw new NotFoundError(
        `Unknown subscription stream '${id.slice(0, 64)}': it ended or never began`,
      );
    }
    credit.took(count);
  }

  /** Forgets stream `id` (it ended). */
  close(id: string): void {
    this.#open.delete(id);
  }
}
