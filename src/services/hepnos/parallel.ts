/**
 * The parallel event processor's server side: which ranks load which
 * targets (HEPnOS's distribution), and jobs whose loaders hand out a
 * dataset's events in batches, each event once, ranks stealing from other
 * loaders once their own is exhausted.
 *
 * @module
 */

import { BusyError, ConflictError, InvalidRequestError, NotFoundError } from "../../errors.ts";

/**
 * The targets each loading rank iterates, HEPnOS's way: with at least as
 * many targets as ranks, every rank loads and target `i` goes to rank
 * `i mod P`; with fewer, ranks 0, x, 2x... load (x = ⌈P/T⌉) and targets go
 * to them in turn.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loaderPlan } from "./parallel.ts";
 * assert.deepEqual([...loaderPlan(4, 2)], [[0, [0, 2]], [1, [1, 3]]]);
 * assert.deepEqual([...loaderPlan(2, 5)], [[0, [0]], [3, [1]]]);
 * ```
 */
export function loaderPlan(targets: number, ranks: number): Map<number, number[]> {
  const plan = new Map<number, number[]>();
  if (targets >= ranks) {
    for (let r = 0; r < ranks; r++) plan.set(r, []);
    for (let t = 0; t < targets; t++) plan.get(t % ranks)!.push(t);
    return plan;
  }
  const x = Math.ceil(ranks / targets);
  const loaders: number[] = [];
  for (let r = 0; r < ranks; r += x) loaders.push(r);
  for (const r of loaders) plan.set(r, []);
  for (let t = 0; t < targets; t++) plan.get(loaders[t % loaders.length]!)!.push(t);
  return plan;
}

/**
 * The order rank `rank` pulls from `loaders`: the first loader at or
 * after its own rank, then on around (a loader serves itself first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pullOrder } from "./parallel.ts";
 * assert.deepEqual(pullOrder([0, 3, 6], 4), [6, 0, 3]);
 * assert.deepEqual(pullOrder([0, 3, 6], 3), [3, 6, 0]);
 * ```
 */
export function pullOrder(loaders: readonly number[], rank: number): number[] {
  const sorted = [...loaders].sort((a, b) => a - b);
  let at = sorted.findIndex((l) => l >= rank);
  if (at < 0) at = 0;
  return [...sorted.slice(at), ...sorted.slice(0, at)];
}

/** Reads the events of one target after a descriptor (the store's `events`). */
export type EventSource = (
  target: number,
  after: Uint8Array | undefined,
  limit: number,
) => Promise<Uint8Array[]>;

/** Options of a job. */
export interface JobSpec {
  /** The dataset's UUID. */
  readonly dataset: Uint8Array;
  /** How many ranks take part. */
  readonly ranks: number;
  /** Events each loader reads from the store at a time (default 64). */
  readonly inputBatchSize?: number;
}

class Loader {
  readonly targets: number[];
  #at = 0;
  #after: Uint8Array | undefined;
  #buffer: Uint8Array[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #done = false;

  constructor(targets: number[]) {
    this.targets = targets;
  }

  get done(): boolean {
    return this.#done;
  }

  /** Up to `n` events not handed out before; empty once exhausted. */
  take(n: number, source: EventSource, batch: number): Promise<Uint8Array[]> {
    const run = this.#chain.then(() => this.#take(n, source, batch));
    this.#chain = run.catch(() => {});
    return run;
  }

  async #take(n: number, source: EventSource, batch: number): Promise<Uint8Array[]> {
    while (this.#buffer.length < n && !this.#done) {
      const target = this.targets[this.#at];
      if (target === undefined) {
        this.#done = this.#buffer.length === 0;
        break;
      }
      const got = await source(target, this.#after, Math.max(batch, n));
      this.#buffer.push(...got);
      if (got.length < Math.max(batch, n)) {
        this.#at++;
        this.#after = undefined;
      } else this.#after = got.at(-1);
    }
    const out = this.#buffer.splice(0, n);
    if (out.length === 0) this.#done = true;
    return out;
  }
}

/** Most jobs held at once. */
export const MAX_JOBS = 64;

/**
 * The jobs under way: each a set of loaders over one dataset's targets.
 * A job idle past `idleMs` is dropped (a rank that died does not keep it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProcessorJobs } from "./parallel.ts";
 * const events = [[new Uint8Array([1]), new Uint8Array([2])], [new Uint8Array([3])]];
 * const jobs = new ProcessorJobs({
 *   targets: 2,
 *   source: () => (t, after) => Promise.resolve(after ? [] : events[t]!),
 * });
 * const spec = { dataset: new Uint8Array(16), ranks: 1 };
 * jobs.start("j", spec);
 * const seen = [];
 * for (;;) {
 *   const { items } = await jobs.next("j", 0, 2);
 *   if (items.length === 0) break;
 *   seen.push(...items.map((i) => i[0]));
 * }
 * assert.deepEqual(seen, [1, 2, 3]);
 * ```
 */
export class ProcessorJobs {
  readonly #targets: number;
  readonly #source: (dataset: Uint8Array) => EventSource;
  readonly #idleMs: number;
  readonly #jobs = new Map<
    string,
    { spec: JobSpec; loaders: Map<number, Loader>; used: number; finished: Set<number> }
  >();

  /** Creates the job table over `targets` targets. */
  constructor(options: {
    readonly targets: number;
    /** The events of a dataset's targets. */
    readonly source: (dataset: Uint8Array) => EventSource;
    /** A job idle this long is dropped (default 10 minutes). */
    readonly idleMs?: number;
  }) {
    this.#targets = options.targets;
    this.#source = options.source;
    this.#idleMs = options.idleMs ?? 600_000;
  }

  /**
   * Starts job `name`, or joins it when it runs with the same dataset and
   * ranks (every rank starts it); `ConflictError` when it differs.
   */
  start(name: string, spec: JobSpec): { loaders: number[] } {
    this.#expire();
    if (!Number.isInteger(spec.ranks) || spec.ranks < 1 || spec.ranks > 65536) {
      throw new InvalidRequestError(`Invalid rank count ${spec.ranks}: expected 1 to 65536`);
    }
    const had = this.#jobs.get(name);
    if (had !== undefined) {
      if (had.spec.ranks !== spec.ranks || had.spec.dataset.join() !== spec.dataset.join()) {
        throw new ConflictError(`Job '${name}' runs with another dataset or rank count`, {
          fields: { job: name, ranks: had.spec.ranks },
        });
      }
      had.used = Date.now();
      return { loaders: [...had.loaders.keys()] };
    }
    if (this.#jobs.size >= MAX_JOBS) {
      throw new BusyError(`Too many processor jobs: at most ${MAX_JOBS}`, {
        fields: { limit: MAX_JOBS },
      });
    }
    const loaders = new Map<number, Loader>();
    for (const [rank, targets] of loaderPlan(this.#targets, spec.ranks)) {
      loaders.set(rank, new Loader(targets));
    }
    this.#jobs.set(name, { spec, loaders, used: Date.now(), finished: new Set() });
    return { loaders: [...loaders.keys()] };
  }

  /**
   * Up to `n` events for rank `rank`, from its own loader first, then
   * stolen from the others; empty when every loader is exhausted.
   */
  async next(name: string, rank: number, n: number): Promise<{ items: Uint8Array[] }> {
    const job = this.#jobs.get(name);
    if (job === undefined) {
      throw new NotFoundError(`No processor job '${name}'`, { fields: { job: name } });
    }
    if (!Number.isInteger(rank) || rank < 0 || rank >= job.spec.ranks) {
      throw new InvalidRequestError(`Invalid rank ${rank}: expected 0 to ${job.spec.ranks - 1}`);
    }
    job.used = Date.now();
    const source = this.#source(job.spec.dataset);
    const batch = job.spec.inputBatchSize ?? 64;
    for (const l of pullOrder([...job.loaders.keys()], rank)) {
      const loader = job.loaders.get(l)!;
      if (loader.done) continue;
      const items = await loader.take(n, source, batch);
      if (items.length > 0) return { items };
    }
    job.finished.add(rank);
    if (job.finished.size === job.spec.ranks) this.#jobs.delete(name);
    return { items: [] };
  }

  /** How many jobs are held. */
  get size(): number {
    return this.#jobs.size;
  }

  #expire(): void {
    const now = Date.now();
    for (const [name, job] of this.#jobs) {
      if (now - job.used > this.#idleMs) this.#jobs.delete(name);
    }
  }
}
