/**
 * Waiting for a version to be committed, by watching each dataset's latest
 * pointer with `kv.watch` (no polling): one watch per dataset name, shared by
 * all its waiters, cancelled when the last one leaves.
 *
 * @module
 */

import { BusyError, ClosedError, InvalidRequestError, WaitTimeoutError } from "../errors.ts";
import { KEYS } from "./keys.ts";
import { metrics } from "../observe/mod.ts";

/** Options of a wait. */
export interface WaitOptions {
  /** Give up after this many milliseconds with `WaitTimeoutError` (default: never). */
  readonly timeoutMs?: number;
  /** Give up when this signal aborts, with its reason. */
  readonly signal?: AbortSignal;
}

/**
 * Options of `VersionWaiters`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VersionWaiters, type WaitersOptions } from "./waiters.ts";
 * const options: WaitersOptions = { maxWaiters: 1 };
 * using kv = await Deno.openKv(":memory:");
 * const waiters = new VersionWaiters(kv, (_d, _atLeast, latest) => latest, options);
 * const first = waiters.wait("grid", 1, { timeoutMs: 10 }).catch((e) => e.code);
 * await assert.rejects(waiters.wait("grid", 1, { timeoutMs: 10 }), { code: "busy" });
 * assert.equal(await first, "timeout");
 * waiters.close();
 * ```
 */
export interface WaitersOptions {
  /**
   * Most waits at once, over all datasets; one more fails at once with
   * `BusyError` (503). Default 10 000.
   */
  readonly maxWaiters?: number;
}

/**
 * Which version a waiter gets once the latest pointer reaches `latest`: the
 * first committed version >= `atLeast` the caller knows of, or 0 while the
 * caller has not caught up with the commit yet (then `notify()` tries again).
 */
export type FirstCommitted = (dataset: string, atLeast: number, latest: number) => number;

interface Waiter {
  readonly atLeast: number;
  readonly resolve: (v: number) => void;
  readonly reject: (e: unknown) => void;
}

interface Watch {
  readonly waiters: Set<Waiter>;
  /** The latest pointer as last seen by the watch (0: not seen yet). */
  latest: number;
  readonly reader: ReadableStreamDefaultReader<Deno.KvEntryMaybe<unknown>[]>;
}

/**
 * Waiters on datasets' latest pointers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VersionWaiters } from "./waiters.ts";
 * const kv = await Deno.openKv(":memory:");
 * const waiters = new VersionWaiters(kv, (_d, _atLeast, latest) => latest);
 * const waiting = waiters.wait("grid", 2, { timeoutMs: 5000 });
 * await kv.set(["latest", "grid"], 1);
 * await kv.set(["latest", "grid"], 2);
 * assert.equal(await waiting, 2);
 * waiters.close();
 * kv.close();
 * ```
 */
export class VersionWaiters {
  readonly #kv: Deno.Kv;
  readonly #first: FirstCommitted;
  readonly #watches = new Map<string, Watch>();
  readonly #max: number;
  #count = 0;
  #closed = false;

  /**
   * Creates waiters over a KV store; `first` picks the version a waiter
   * gets; at most `maxWaiters` wait at once (default 10 000).
   */
  constructor(kv: Deno.Kv, first: FirstCommitted, options: WaitersOptions = {}) {
    this.#kv = kv;
    this.#first = first;
    const max = options.maxWaiters ?? 10_000;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new RangeError(`Invalid maxWaiters: expected a non-negative integer, received ${max}`);
    }
    this.#max = max;
  }

  /** Waiters currently waiting, over all datasets. */
  get size(): number {
    return this.#count;
  }

  /**
   * Resolves with the first committed version >= `atLeast` of `dataset` once
   * its latest pointer reaches `atLeast` (the dataset need not exist yet).
   * `BusyError` at once when `maxWaiters` already wait.
   */
  wait(dataset: string, atLeast: number, options: WaitOptions = {}): Promise<number> {
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && !(timeoutMs >= 0)) {
      return Promise.reject(
        new InvalidRequestError(`Invalid wait ${timeoutMs} ms: expected a number >= 0`),
      );
    }
    if (this.#closed) return Promise.reject(new ClosedError("registry", "nothing to wait for"));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#count >= this.#max) {
      return Promise.reject(
        new BusyError(
          `Too many waits (${this.#max}) for versions to be committed: try again later`,
        ),
      );
    }
    return new Promise<number>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => finish(() => reject(signal!.reason));
      const finish = (settle: () => void) => {
        if (!watch.waiters.delete(waiter)) return;
        this.#count--;
        metrics.waits.dec();
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (watch.waiters.size === 0) this.#stop(dataset, watch);
        settle();
      };
      const waiter: Waiter = {
        atLeast,
        resolve: (v) => finish(() => resolve(v)),
        reject: (e) => finish(() => reject(e)),
      };
      const watch = this.#watch(dataset);
      watch.waiters.add(waiter);
      this.#count++;
      metrics.waits.inc();
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () => finish(() => reject(new WaitTimeoutError(dataset, atLeast, timeoutMs))),
          Math.min(timeoutMs, 2 ** 31 - 1),
        );
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Rejects every waiter with `ClosedError` and cancels the watches. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const err = new ClosedError("registry", "nothing to wait for");
      for (const w of [...this.#watches.values()]) {
        for (const waiter of [...w.waiters]) waiter.reject(err);
      }
    }
    return Promise.resolve();
  }

  /** Closes the waiters (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #watch(dataset: string): Watch {
    const w = this.#watches.get(dataset);
    if (w !== undefined) return w;
    const reader = this.#kv.watch([KEYS.latest(dataset)]).getReader();
    const watch: Watch = { waiters: new Set(), reader, latest: 0 };
    this.#watches.set(dataset, watch);
    this.#follow(dataset, watch);
    return watch;
  }

  async #follow(dataset: string, watch: Watch): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await watch.reader.read();
        if (done) return;
        const latest = value[0]?.value;
        if (typeof latest !== "number") continue;
        watch.latest = latest;
        this.#wake(dataset, watch);
      }
    } catch (e) {
      // The store closed under the watch: nothing more will be committed.
      for (const waiter of [...watch.waiters]) waiter.reject(e);
    }
  }

  /**
   * Tells the waiters of `dataset` that the caller's view changed (a commit it
   * made is now visible to it): waiters whose version the watch has already
   * seen committed are answered.
   */
  notify(dataset: string): void {
    const watch = this.#watches.get(dataset);
    if (watch !== undefined) this.#wake(dataset, watch);
  }

  #wake(dataset: string, watch: Watch): void {
    if (watch.latest === 0) return;
    for (const waiter of [...watch.waiters]) {
      if (waiter.atLeast > watch.latest) continue;
      const v = this.#first(dataset, waiter.atLeast, watch.latest);
      if (v > 0) waiter.resolve(v);
    }
  }

  #stop(dataset: string, watch: Watch): void {
    if (this.#watches.get(dataset) === watch) this.#watches.delete(dataset);
    watch.reader.cancel().catch(() => {});
  }
}
