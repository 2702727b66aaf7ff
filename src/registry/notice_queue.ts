/**
 * One subscriber's queue of committed versions: bounded, with a policy for
 * a consumer that falls behind, so a slow consumer never makes the name
 * server (or the producer) hold more than `limit` notices for it.
 *
 * @module
 */

import { BusyError, ClosedError, InvalidRequestError } from "../errors.ts";

/**
 * What a full queue does with one more commit: `drop-oldest` forgets the
 * oldest queued version (the consumer learns how many it missed),
 * `fail` ends the subscription with `BusyError`, `block` holds the
 * dataset's commits until the queue has room (see `room()`).
 */
export type OverflowPolicy = "drop-oldest" | "fail" | "block";

/** The overflow policies, for validation. */
export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ["drop-oldest", "fail", "block"];

/** Most notices a subscriber may ask to queue. */
export const MAX_QUEUE_LIMIT = 1024;

/** A notice taken from the queue, and how many were dropped just before it. */
export interface Taken<T> {
  /** The notice (a committed version, or what a name server pushed about it). */
  readonly value: T;
  /** Versions dropped (overflow, or retired before they were taken) since the last one taken. */
  readonly dropped: number;
}

/**
 * A bounded queue of committed versions with an overflow policy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoticeQueue } from "./notice_queue.ts";
 * const q = new NoticeQueue("field", { limit: 2, policy: "drop-oldest" });
 * for (const v of [1, 2, 3]) q.push(v);
 * assert.deepEqual(await q.next(10), { value: 2, dropped: 1 });
 * assert.deepEqual(await q.next(10), { value: 3, dropped: 0 });
 * assert.equal(await q.next(10), undefined);
 * ```
 */
export class NoticeQueue<T = number> {
  readonly #dataset: string;
  readonly #limit: number;
  readonly #policy: OverflowPolicy;
  readonly #versions: T[] = [];
  #dropped = 0;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  /** Waiters for room in the queue (`room()`). */
  #roomWaiters: (() => void)[] = [];

  /** An empty queue for subscribers of `dataset`; `InvalidRequestError` for a bad limit or policy. */
  constructor(
    dataset: string,
    options: { readonly limit?: number; readonly policy?: string } = {},
  ) {
    const limit = options.limit ?? 16;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_QUEUE_LIMIT) {
      throw new InvalidRequestError(
        `Invalid subscription limit: expected an integer from 1 to ${MAX_QUEUE_LIMIT}, found ${limit}`,
      );
    }
    const policy = options.policy ?? "drop-oldest";
    if (!(OVERFLOW_POLICIES as readonly string[]).includes(policy)) {
      throw new InvalidRequestError(
        `Invalid subscription policy: expected ${OVERFLOW_POLICIES.slice(0, -1).join(", ")} or ${
          OVERFLOW_POLICIES.at(-1)
        }, found '${policy.slice(0, 40)}'`,
      );
    }
    this.#dataset = dataset;
    this.#limit = limit;
    this.#policy = policy as OverflowPolicy;
  }

  /** Versions queued. */
  get length(): number {
    return this.#versions.length;
  }

  /** The overflow policy. */
  get policy(): OverflowPolicy {
    return this.#policy;
  }

  /** Versions that fit before the queue is full (0 once it failed or closed: nothing more goes in). */
  get free(): number {
    return this.#failure === undefined ? this.#limit - this.#versions.length : 0;
  }

  /**
   * Resolves once the queue has room for one more version, or has failed
   * or closed. With `timeoutMs`, a queue still full after it is failed with
   * `BusyError` (its consumer stopped taking versions), then this resolves.
   */
  async room(timeoutMs?: number): Promise<void> {
    if (this.#failure !== undefined || this.#versions.length < this.#limit) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const roomed = await new Promise<boolean>((resolve) => {
      this.#roomWaiters.push(() => resolve(true));
      if (timeoutMs !== undefined) timer = setTimeout(() => resolve(false), timeoutMs);
    });
    clearTimeout(timer);
    if (roomed || this.#versions.length < this.#limit) return;
    this.fail(
      new BusyError(
        `Subscriber of '${this.#dataset}' held its dataset's commits for ${timeoutMs} ms with ${this.#limit} versions untaken (policy block): the subscription ends and the commits go on`,
        { fields: { dataset: this.#dataset, limit: this.#limit } },
      ),
    );
  }

  /** Queues a notice of a committed version, applying the policy when the queue is full. */
  push(version: T): void {
    if (this.#failure !== undefined) return;
    if (this.#versions.length >= this.#limit) {
      if (this.#policy !== "drop-oldest") {
        this.#versions.length = 0;
        this.#failure = new BusyError(
          `Subscriber of '${this.#dataset}' fell ${this.#limit} versions behind (policy ${this.#policy}): a commit did not fit in its queue`,
          { fields: { dataset: this.#dataset, limit: this.#limit } },
        );
        this.#roomed();
      } else {
        this.#versions.shift();
        this.#dropped++;
        this.#versions.push(version);
      }
    } else this.#versions.push(version);
    // Woken once: until it runs, the waiting consumer is no longer free.
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Whether a `next()` waits for a notice now: its consumer is free. */
  get waiting(): boolean {
    return this.#wake !== undefined;
  }

  /** Takes every queued notice out, oldest first (a consumer leaving a group hands them on). */
  drain(): T[] {
    return this.#versions.splice(0);
  }

  /** Counts a version dropped after it was queued (retired before it was taken). */
  skipped(): void {
    this.#dropped++;
  }

  /**
   * The oldest queued version, waiting up to `timeoutMs` for one; undefined
   * when none came. Throws the queue's failure (`BusyError`, `ClosedError`).
   */
  async next(timeoutMs: number): Promise<Taken<T> | undefined> {
    if (this.#versions.length === 0 && this.#failure === undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
    if (this.#versions.length === 0) {
      if (this.#failure !== undefined) throw this.#failure;
      return undefined;
    }
    const value = this.#versions.shift()!;
    this.#roomed();
    const dropped = this.#dropped;
    this.#dropped = 0;
    return { value, dropped };
  }

  /** Ends the queue with `error` once what it holds is taken (a failure the other end reported). */
  fail(error: Error): void {
    this.#failure ??= error;
    this.#wake?.();
    this.#roomed();
  }

  #roomed(): void {
    const waiters = this.#roomWaiters;
    if (waiters.length === 0) return;
    this.#roomWaiters = [];
    for (const w of waiters) w();
  }

  /** Ends the queue: a waiting `next()` and later ones throw `ClosedError`. */
  close(): void {
    this.#versions.length = 0;
    this.#failure ??= new ClosedError("subscription", "its consumer closed it");
    this.#wake?.();
    this.#roomed();
  }
}
