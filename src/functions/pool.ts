/**
 * Warm function Workers, pooled per loaded module (its digest and limits),
 * plus a few spare Workers started ahead with nothing loaded (and the
 * default heap limit), so the first call of a new version does not wait for
 * a Worker to start. Workers start through the pool's relay (relay.ts).
 *
 * @module
 */

import { BusyError, ClosedError } from "../errors.ts";
import type { ModuleExports } from "./declaration.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { Relay } from "./relay.ts";
import { heapMbOf, Sandbox, type SandboxReply } from "./sandbox.ts";

/** Options of a pool. */
export interface PoolOptions {
  /** Workers per loaded module, at most (default 2). */
  readonly perModule?: number;
  /** Spare Workers kept started with nothing loaded (default 1). */
  readonly spares?: number;
  /** A Worker idle this long is terminated, in ms (default 30 000). */
  readonly idleMs?: number;
  /** Calls that may wait for a module's Workers before `BusyError` (default 1024). */
  readonly maxQueue?: number;
}

/** A module the pool loads: its key, runnable source and limits. */
export interface Loadable {
  /** Pool key: digest and limits (see `limitsKey`). */
  readonly key: string;
  /** Source text as the sandbox loads it. */
  readonly source: string;
  /** The limits it runs under. */
  readonly limits: Limits;
}

/** A Worker lent out for one request. */
export interface Lease {
  /** The Worker, with the module loaded. */
  readonly sandbox: Sandbox;
  /** The module's exports as it reported them when it loaded. */
  readonly exports: ModuleExports;
  /** Whether this Worker had to load the module for this lease (a cold start). */
  readonly cold: boolean;
  /** Gives the Worker back (or replaces it when it was terminated). */
  release(): void;
}

/** Loading the module failed; the reply says why. */
export type LoadFailure = Exclude<SandboxReply, { t: "loaded" } | { t: "done" }>;

/** Thrown by `acquire()` when the module does not load. */
export class LoadFailed extends Error {
  /** What the sandbox answered. */
  readonly reply: LoadFailure;

  /** Creates the error from the sandbox's reply. */
  constructor(reply: LoadFailure) {
    super(
      reply.t === "error"
        ? `${reply.error.name}: ${reply.error.message}`
        : reply.t === "timeout"
        ? `loading took longer than ${reply.ms} ms`
        : `the Worker died: ${reply.message}`,
    );
    this.reply = reply;
  }
}

/** Quiet time after which spare Workers are started again, in ms. */
const REFILL_QUIET_MS = 25;

interface Entry {
  readonly idle: Sandbox[];
  total: number;
  exports: ModuleExports | undefined;
  readonly waiters: {
    resolve: (lease: Lease) => void;
    reject: (e: unknown) => void;
    module: Loadable;
  }[];
  timer: ReturnType<typeof setTimeout> | undefined;
  /** When a Worker last came back idle (performance.now()). */
  lastIdle: number;
}

/**
 * The Worker pool of one service.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerPool } from "./pool.ts";
 * import { DEFAULT_LIMITS } from "./limits.ts";
 * const pool = new WorkerPool({ spares: 0 });
 * try {
 *   const module = { key: "k", limits: DEFAULT_LIMITS, source: "export const input = ''; export const output = 'value'; export function run() { return 1; }" };
 *   const lease = await pool.acquire(module);
 *   assert.equal(lease.cold, true);
 *   lease.release();
 *   const again = await pool.acquire(module);
 *   assert.equal(again.cold, false);
 *   again.release();
 * } finally {
 *   await pool.close();
 * }
 * ```
 */
export class WorkerPool {
  readonly #perModule: number;
  readonly #spareCount: number;
  readonly #idleMs: number;
  readonly #maxQueue: number;
  readonly #entries = new Map<string, Entry>();
  readonly #spares: Sandbox[] = [];
  #relay: Relay | undefined;
  #refillTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** Creates a pool; no Worker starts until the first call. */
  constructor(options: PoolOptions = {}) {
    this.#perModule = options.perModule ?? 2;
    this.#spareCount = options.spares ?? 1;
    this.#idleMs = options.idleMs ?? 30_000;
    this.#maxQueue = options.maxQueue ?? 1024;
  }

  /** Workers started (busy, idle and spare) and calls waiting. */
  get stats(): { workers: number; spares: number; waiting: number } {
    let workers = 0;
    let waiting = 0;
    for (const e of this.#entries.values()) {
      workers += e.total;
      waiting += e.waiters.length;
    }
    return { workers, spares: this.#spares.length, waiting };
  }

  /**
   * Lends a Worker with `module` loaded: an idle one, else a new one (a
   * spare when there is one) while the module has fewer than its share,
   * else the next one given back. Throws `BusyError` when the queue is full,
   * `LoadFailed` when the module does not load.
   */
  acquire(module: Loadable): Promise<Lease> {
    if (this.#closed) return Promise.reject(new ClosedError("function pool", "no call was made"));
    if (this.#refillTimer !== undefined) this.#refillSoon();
    const e = this.#entry(module.key);
    const idle = e.idle.pop();
    if (idle !== undefined) {
      return Promise.resolve(this.#lease(module.key, e, idle, false));
    }
    if (e.total < this.#perModule) return this.#grow(module, e);
    if (e.waiters.length >= this.#maxQueue) {
      return Promise.reject(
        new BusyError(
          `Too many calls wait for this function's Workers: ${e.waiters.length} queued, try again later`,
        ),
      );
    }
    return new Promise((resolve, reject) => e.waiters.push({ resolve, reject, module }));
  }

  /** Starts the spare Workers now rather than at the first call. */
  warm(): void {
    this.#refill();
  }

  /** Starts the spare Workers now, and resolves once they are up. */
  async warmed(): Promise<void> {
    clearTimeout(this.#refillTimer);
    this.#refillTimer = undefined;
    this.#refill();
    await Promise.all(this.#spares.map((sb) => sb.ready));
  }

  /** Terminates every Worker of a module (a refused deploy, a deleted version). */
  evict(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    for (const sb of e.idle) sb.terminate();
    e.total -= e.idle.length;
    e.idle.length = 0;
    this.#unschedule(e);
    if (e.total === 0 && e.waiters.length === 0) this.#entries.delete(key);
  }

  /**
   * Terminates every Worker; waiting calls fail with `ClosedError`. Resolves
   * once the Workers have stopped.
   */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#refillTimer);
    this.#refillTimer = undefined;
    for (const e of this.#entries.values()) {
      for (const sb of e.idle) sb.terminate();
      this.#unschedule(e);
      for (const w of e.waiters) w.reject(new ClosedError("function pool", "no call was made"));
      e.waiters.length = 0;
    }
    this.#entries.clear();
    for (const sb of this.#spares.splice(0)) sb.terminate();
    return this.#relay?.close() ?? Promise.resolve();
  }

  #spawn(memoryBytes: number): Sandbox {
    this.#relay ??= new Relay();
    return Sandbox.spawn(this.#relay, memoryBytes);
  }

  /** A spare Worker with the heap limit `memoryBytes` needs, if there is one. */
  #spare(memoryBytes: number): Sandbox | undefined {
    const heapMb = heapMbOf(memoryBytes);
    const i = this.#spares.findIndex((sb) => sb.heapMb === heapMb);
    return i < 0 ? undefined : this.#spares.splice(i, 1)[0];
  }

  async #grow(module: Loadable, e: Entry): Promise<Lease> {
    e.total++;
    const sb = this.#spare(module.limits.memoryBytes) ?? this.#spawn(module.limits.memoryBytes);
    let reply: SandboxReply;
    try {
      reply = await sb.request(
        { t: "load", source: module.source, limits: module.limits },
        [],
        module.limits.timeMs,
      );
    } catch (err) {
      reply = { t: "crashed", message: (err as Error).message };
    }
    this.#refillSoon();
    if (reply.t !== "loaded" || this.#closed) {
      sb.terminate();
      e.total--;
      this.#next(module.key, e);
      if (this.#closed) throw new ClosedError("function pool", "no call was made");
      throw new LoadFailed(reply as LoadFailure);
    }
    e.exports = reply.exports;
    return this.#lease(module.key, e, sb, true);
  }

  #lease(key: string, e: Entry, sandbox: Sandbox, cold: boolean): Lease {
    let released = false;
    return {
      sandbox,
      exports: e.exports!,
      cold,
      release: () => {
        if (released) return;
        released = true;
        if (this.#closed || sandbox.dead) {
          sandbox.terminate();
          e.total--;
          this.#next(key, e);
          return;
        }
        const w = e.waiters.shift();
        if (w !== undefined) w.resolve(this.#lease(key, e, sandbox, false));
        else {
          e.idle.push(sandbox);
          this.#schedule(key, e);
        }
      },
    };
  }

  /** A Worker left: start another for the next waiter, if any. */
  #next(key: string, e: Entry): void {
    const w = e.waiters.shift();
    if (w === undefined) {
      if (e.total === 0 && e.idle.length === 0) this.#entries.delete(key);
      return;
    }
    this.#grow(w.module, e).then(w.resolve, w.reject);
  }

  #entry(key: string): Entry {
    let e = this.#entries.get(key);
    if (e === undefined) {
      e = { idle: [], total: 0, exports: undefined, waiters: [], timer: undefined, lastIdle: 0 };
      this.#entries.set(key, e);
    }
    return e;
  }

  /**
   * Notes that a Worker came back idle. One timer per module, armed once and
   * re-armed when it fires early: a timer per call would cost more than the
   * call's own bookkeeping.
   */
  #schedule(key: string, e: Entry): void {
    e.lastIdle = performance.now();
    if (e.timer !== undefined) return;
    const check = (wait: number) => {
      e.timer = setTimeout(() => {
        e.timer = undefined;
        if (e.idle.length === 0) return;
        const left = e.lastIdle + this.#idleMs - performance.now();
        if (left > 0) check(left);
        else this.evict(key);
      }, wait);
    };
    check(this.#idleMs);
  }

  #unschedule(e: Entry): void {
    if (e.timer !== undefined) clearTimeout(e.timer);
    e.timer = undefined;
  }

  #refill(): void {
    while (!this.#closed && this.#spares.length < this.#spareCount) {
      this.#spares.push(this.#spawn(DEFAULT_LIMITS.memoryBytes));
    }
  }

  /**
   * Spares are started once the pool has been quiet for a moment: not in the
   * path of the call that took one, nor of the calls that follow it.
   */
  #refillSoon(): void {
    if (this.#closed || this.#spares.length >= this.#spareCount) return;
    clearTimeout(this.#refillTimer);
    this.#refillTimer = setTimeout(() => {
      this.#refillTimer = undefined;
      this.#refill();
    }, REFILL_QUIET_MS);
  }
}
