/**
 * Warm sandbox processes, pooled per loaded module (a function version: its
 * digest and limits), bounded per module and in total, plus a few spare
 * processes started ahead with nothing loaded (and the default memory
 * limit), so the first call of a new version does not wait for a process to
 * start. Processes start through the pool's launcher (launcher.ts); no
 * process ever serves two modules.
 *
 * @module
 */

import { BusyError, ClosedError } from "../errors.ts";
import type { ModuleExports } from "./declaration.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { HEAP_ONLY_WARNING, Launcher, type LauncherOptions } from "./launcher.ts";
import { heapMbOf, Sandbox, type SandboxReply } from "./sandbox.ts";
import { log, metrics } from "../observe/mod.ts";

/** Options of a pool. */
export interface PoolOptions {
  /** Processes per loaded module, at most (default 2). */
  readonly perModule?: number;
  /** Processes in all, loaded and spare, at most (default 16). */
  readonly maxProcesses?: number;
  /** Spare processes kept started with nothing loaded (default 1). */
  readonly spares?: number;
  /** A process idle this long is killed, in ms (default 30 000). */
  readonly idleMs?: number;
  /** Calls that may wait for a module's processes before `BusyError` (default 1024). */
  readonly maxQueue?: number;
  /** How processes are started (default: the best isolation the machine allows). */
  readonly launcher?: LauncherOptions;
  /**
   * How often idle processes are checked for work they keep doing after
   * their call returned (a Worker a function started, a timer), in ms
   * (default 5 000). One that used more than a fifth of the interval's CPU
   * while idle is killed.
   */
  readonly idleCpuCheckMs?: number;
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

/** A sandbox process lent out for one request. */
export interface Lease {
  /** The process, with the module loaded. */
  readonly sandbox: Sandbox;
  /** The module's exports as it reported them when it loaded. */
  readonly exports: ModuleExports;
  /** Whether this process had to load the module for this lease (a cold start). */
  readonly cold: boolean;
  /** Gives the process back (or replaces it when it died). */
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
        : `the sandbox process died: ${reply.message}`,
    );
    this.reply = reply;
  }
}

/** Quiet time after which spare processes are started again, in ms. */
const REFILL_QUIET_MS = 25;
/** How long `close()` waits for processes to exit, in ms. */
const CLOSE_WAIT_MS = 5_000;

interface Waiter {
  resolve: (lease: Lease) => void;
  reject: (e: unknown) => void;
  module: Loadable;
}

interface Entry {
  readonly idle: Sandbox[];
  total: number;
  exports: ModuleExports | undefined;
  readonly waiters: Waiter[];
  timer: ReturnType<typeof setTimeout> | undefined;
  /** When a process last came back idle (performance.now()). */
  lastIdle: number;
}

/**
 * The sandbox process pool of one service.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SandboxPool } from "./pool.ts";
 * import { DEFAULT_LIMITS } from "./limits.ts";
 * const pool = new SandboxPool({ spares: 0 });
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
export class SandboxPool {
  readonly #perModule: number;
  readonly #maxProcesses: number;
  readonly #spareCount: number;
  readonly #idleMs: number;
  readonly #maxQueue: number;
  readonly #entries = new Map<string, Entry>();
  readonly #spares: Sandbox[] = [];
  readonly #launcher: Launcher;
  /** Every process started and not yet exited. */
  readonly #live = new Set<Sandbox>();
  /** Modules whose calls wait for room under `maxProcesses`. */
  readonly #starved: string[] = [];
  #refillTimer: ReturnType<typeof setTimeout> | undefined;
  /** When a call last took a process: the quiet the refill waits for starts there. */
  #lastAcquire = 0;
  #closed = false;
  #warned = false;
  readonly #idleCpuCheckMs: number;
  #cpuTimer: ReturnType<typeof setTimeout> | undefined;
  /** CPU ticks of each idle process at the last check, and the process. */
  #cpuSeen = new Map<Sandbox, number>();

  /** Creates a pool; no process starts until the first call. */
  constructor(options: PoolOptions = {}) {
    this.#perModule = options.perModule ?? 2;
    this.#maxProcesses = options.maxProcesses ?? 16;
    this.#spareCount = Math.min(options.spares ?? 1, this.#maxProcesses);
    this.#idleMs = options.idleMs ?? 30_000;
    this.#maxQueue = options.maxQueue ?? 1024;
    this.#launcher = new Launcher(options.launcher);
    this.#idleCpuCheckMs = options.idleCpuCheckMs ?? 5_000;
  }

  /** Processes started (busy, idle and spare), spares, calls waiting. */
  get stats(): { workers: number; spares: number; waiting: number; processes: number } {
    let workers = 0;
    let waiting = 0;
    for (const e of this.#entries.values()) {
      workers += e.total;
      waiting += e.waiters.length;
    }
    return { workers, spares: this.#spares.length, waiting, processes: this.#live.size };
  }

  /** The launcher, to ask which isolation the machine gives. */
  get launcher(): Launcher {
    return this.#launcher;
  }

  /**
   * Lends a process with `module` loaded: an idle one, else a new one (a
   * spare when there is one) while the module has fewer than its share and
   * the pool fewer than `maxProcesses`, else the next one given back.
   * Throws `BusyError` when the queue is full, `LoadFailed` when the module
   * does not load.
   */
  acquire(module: Loadable): Promise<Lease> {
    if (this.#closed) return Promise.reject(new ClosedError("function pool", "no call was made"));
    if (!this.#warned) {
      // Said at the first call, not at start: a service that fails to
      // start says only why.
      this.#warned = true;
      this.#launcher.isolation().then((i) => {
        if (i.mode === "heap-only") log.warn("function isolation", { message: HEAP_ONLY_WARNING });
      }, () => {});
    }
    // A pending refill waits for quiet: note the call, the timer looks when it fires.
    if (this.#refillTimer !== undefined) this.#lastAcquire = performance.now();
    const e = this.#entry(module.key);
    const idle = e.idle.pop();
    if (idle !== undefined) {
      return Promise.resolve(this.#lease(module.key, e, idle, false));
    }
    if (e.total < this.#perModule && this.#room(module)) return this.#grow(module, e);
    if (e.waiters.length >= this.#maxQueue) {
      return Promise.reject(
        new BusyError(
          `Too many calls wait for this function's sandbox processes: ${e.waiters.length} queued, try again later`,
        ),
      );
    }
    if (e.total === 0 && !this.#starved.includes(module.key)) this.#starved.push(module.key);
    return new Promise((resolve, reject) => e.waiters.push({ resolve, reject, module }));
  }

  /** Starts the spare processes now rather than at the first call. */
  warm(): void {
    this.#refill();
  }

  /** Starts the spare processes now, and resolves once they are up. */
  async warmed(): Promise<void> {
    clearTimeout(this.#refillTimer);
    this.#refillTimer = undefined;
    this.#refill();
    await Promise.all(this.#spares.map((sb) => sb.ready));
  }

  /** Kills every idle process of a module (a refused deploy, a deleted version). */
  evict(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    for (const sb of e.idle) sb.terminate();
    e.total -= e.idle.length;
    e.idle.length = 0;
    this.#unschedule(e);
    if (e.total === 0 && e.waiters.length === 0) this.#entries.delete(key);
    this.#feedStarved();
  }

  /**
   * Kills every process; waiting calls fail with `ClosedError`. Resolves
   * once the processes have exited (at most 5 s).
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#refillTimer);
    this.#refillTimer = undefined;
    clearTimeout(this.#cpuTimer);
    this.#cpuTimer = undefined;
    for (const e of this.#entries.values()) {
      this.#unschedule(e);
      for (const w of e.waiters) w.reject(new ClosedError("function pool", "no call was made"));
      e.waiters.length = 0;
    }
    this.#entries.clear();
    this.#spares.length = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => timer = setTimeout(resolve, CLOSE_WAIT_MS));
    await Promise.race([Promise.all([...this.#live].map((sb) => sb.terminate())), late]);
    clearTimeout(timer);
    await this.#launcher.close();
  }

  /** Closes it (`await using`); see `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #spawn(memoryBytes: number): Sandbox {
    const sb = Sandbox.spawn(this.#launcher, memoryBytes);
    this.#live.add(sb);
    sb.exited.then(() => this.#live.delete(sb));
    return sb;
  }

  /**
   * Whether a process for `module` may start: under `maxProcesses`, counting
   * a spare it can take, else after killing an idle process of another
   * module or a spare of another size.
   */
  #room(module: Loadable): boolean {
    const heapMb = heapMbOf(module.limits.memoryBytes);
    if (this.#spares.some((sb) => sb.heapMb === heapMb)) return true;
    if (this.#count() < this.#maxProcesses) return true;
    const spare = this.#spares.shift();
    if (spare !== undefined) {
      spare.terminate();
      return true;
    }
    let oldest: [string, Entry] | undefined;
    for (const [key, e] of this.#entries) {
      if (key === module.key || e.idle.length === 0) continue;
      if (oldest === undefined || e.lastIdle < oldest[1].lastIdle) oldest = [key, e];
    }
    if (oldest === undefined) return false;
    const [key, e] = oldest;
    e.idle.shift()!.terminate();
    e.total--;
    if (e.total === 0 && e.waiters.length === 0) {
      this.#unschedule(e);
      this.#entries.delete(key);
    }
    return true;
  }

  /** Processes that count against `maxProcesses`: loaded ones and spares. */
  #count(): number {
    let n = this.#spares.length;
    for (const e of this.#entries.values()) n += e.total;
    return n;
  }

  /** A spare process with the heap limit `memoryBytes` needs, if there is one. */
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
    this.#cpuSeen.delete(sandbox);
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
        else if (this.#starved.length > 0) {
          // Another module waits for room: this process makes way.
          sandbox.terminate();
          e.total--;
          if (e.total === 0) this.#entries.delete(key);
          this.#feedStarved();
        } else {
          e.idle.push(sandbox);
          this.#schedule(key, e);
          this.#watchCpu();
        }
      },
    };
  }

  /** A process left: start another for the next waiter, if any, else for a starved module. */
  #next(key: string, e: Entry): void {
    const w = e.waiters.shift();
    if (w === undefined) {
      if (e.total === 0 && e.idle.length === 0) this.#entries.delete(key);
      this.#feedStarved();
      return;
    }
    this.#grow(w.module, e).then(w.resolve, w.reject);
  }

  /** Starts a process for the module that has waited longest for room, if there is room. */
  #feedStarved(): void {
    while (this.#starved.length > 0 && !this.#closed) {
      const key = this.#starved[0]!;
      const e = this.#entries.get(key);
      if (e === undefined || e.waiters.length === 0) {
        this.#starved.shift();
        continue;
      }
      if (!this.#room(e.waiters[0]!.module)) return;
      this.#starved.shift();
      const w = e.waiters.shift()!;
      this.#grow(w.module, e).then(w.resolve, w.reject);
    }
  }

  /**
   * Checks idle processes' CPU time every `idleCpuCheckMs` while there are
   * any: a process that keeps computing after its call returned (a Worker
   * the function started and left running) is killed rather than kept.
   * One `sh` reads them all, off the path of any call.
   */
  #watchCpu(): void {
    if (this.#cpuTimer !== undefined || this.#closed) return;
    this.#cpuTimer = setTimeout(async () => {
      const idle: [string, Entry, Sandbox][] = [];
      for (const [key, e] of this.#entries) for (const sb of e.idle) idle.push([key, e, sb]);
      const pids = idle.map(([, , sb]) => sb.pid).filter((p): p is number => p !== undefined);
      let ticks = new Map<number, number>();
      try {
        ticks = await this.#launcher.cpuTicks(pids);
      } catch {
        // Not this time.
      }
      this.#cpuTimer = undefined;
      if (this.#closed) return;
      const seen = new Map<Sandbox, number>();
      // Clock ticks are 1/100 s on Linux.
      const allowed = this.#idleCpuCheckMs / 5 / 10;
      for (const [key, e, sb] of idle) {
        const now = sb.pid === undefined ? undefined : ticks.get(sb.pid);
        if (now === undefined || !e.idle.includes(sb)) continue;
        const before = this.#cpuSeen.get(sb);
        if (before !== undefined && now - before > allowed) {
          e.idle.splice(e.idle.indexOf(sb), 1);
          e.total--;
          sb.terminate();
          metrics.functionKills.inc({ limit: "idle_cpu" });
          log.warn("function process killed", {
            module: key.slice(0, 16),
            limit: "idle_cpu",
            message: `it used ${
              (now - before) * 10
            } ms of CPU in ${this.#idleCpuCheckMs} ms after its call returned`,
          });
          if (e.total === 0 && e.waiters.length === 0) {
            this.#unschedule(e);
            this.#entries.delete(key);
          }
          continue;
        }
        seen.set(sb, now);
      }
      this.#cpuSeen = seen;
      if (idle.length > 0) this.#watchCpu();
    }, this.#idleCpuCheckMs);
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
   * Notes that a process came back idle. One timer per module, armed once
   * and re-armed when it fires early: a timer per call would cost more than
   * the call's own bookkeeping.
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
    while (
      !this.#closed && this.#spares.length < this.#spareCount &&
      this.#count() < this.#maxProcesses
    ) {
      this.#spares.push(this.#spawn(DEFAULT_LIMITS.memoryBytes));
    }
  }

  /**
   * Spares are started once the pool has been quiet for a moment: not in the
   * path of the call that took one, nor of the calls that follow it.
   */
  #refillSoon(): void {
    if (this.#closed || this.#spares.length >= this.#spareCount) return;
    this.#lastAcquire = performance.now();
    if (this.#refillTimer !== undefined) return;
    // One timer, not one per call: when it fires before the pool has been
    // quiet long enough, it waits for the rest of the quiet.
    const fire = () => {
      const quietFor = performance.now() - this.#lastAcquire;
      if (quietFor < REFILL_QUIET_MS) {
        this.#refillTimer = setTimeout(fire, REFILL_QUIET_MS - quietFor);
        return;
      }
      this.#refillTimer = undefined;
      this.#refill();
    };
    this.#refillTimer = setTimeout(fire, REFILL_QUIET_MS);
  }
}
