/**
 * Writes that do not wait: `WriteBatch` queues creates and product stores
 * per target and sends a target's queue when it reaches its size, on
 * `flush()` and on `close()`; `AsyncEngine` runs operations concurrently, at
 * most `maxInFlight` at once, collecting their errors.
 *
 * @module
 */

import { InvalidRequestError, WaitTimeoutError } from "../../errors.ts";
import type { DataStore } from "./client.ts";
import { bytesKey, descriptorLevel, parentDescriptor } from "./codec.ts";
import { descriptorTarget, productTarget } from "./placement.ts";

/** A product queued in a batch. */
export interface QueuedProduct {
  /** The item's descriptor. */
  readonly item: Uint8Array;
  /** Label. */
  readonly label: string;
  /** Type name. */
  readonly type: string;
  /** The value's bytes. */
  readonly value: Uint8Array;
}

/** Options of a write batch. */
export interface WriteBatchOptions {
  /** Writes a target's queue holds before it is sent (default 128, as HEPnOS). */
  readonly maxBatchSize?: number;
  /**
   * Sends queues in the background through this engine (HEPnOS's
   * `WriteBatch(async_engine)`): the write that fills a queue waits only
   * while the engine runs `maxInFlight` operations, several products sends
   * travel at once, and their errors land in the engine's `errors` instead
   * of throwing. A creates send waits for the creates still running that
   * hold a parent of one of its items (the others travel at once), and a
   * products send waits for the creates queued before it.
   */
  readonly async?: AsyncEngine;
}

/**
 * A write batch. Creates are sent before products (a product's event may
 * be created in the same batch); a product already stored is not an error
 * (HEPnOS ignores KEY_EXISTS in batches); other errors throw from the call
 * that sends them (`flush()`, `close()`, or the write that filled a queue).
 * At most `maxBatchSize` writes per target are held: bounded memory. With
 * an async engine, sends run in the background, at most the engine's
 * `maxInFlight` at once; `flush()` and `close()` wait for them, and their
 * errors are in the engine's `errors`.
 *
 * @example
 * ```ts ignore
 * await using batch = new WriteBatch(store, { maxBatchSize: 64 });
 * for (let e = 0n; e < 1000n; e++) {
 *   const event = await subrun.createEvent(e, { batch });
 *   await event.storeArray("hits", hits, {}, { batch });
 * }
 * ```
 */
export class WriteBatch {
  readonly #store: DataStore;
  readonly #max: number;
  readonly #engine: AsyncEngine | undefined;
  readonly #creates = new Map<number, Uint8Array[]>();
  readonly #products = new Map<number, QueuedProduct[]>();
  #pendingCreates = 0;
  #chain: Promise<unknown> = Promise.resolve();
  /** With an engine: the creates sends running, with the items each creates. */
  readonly #createsRunning = new Map<Promise<unknown>, Set<string>>();
  /** With an engine: the sends still running. */
  readonly #sending = new Set<Promise<unknown>>();
  #closed = false;

  /** A batch writing to `store`. */
  constructor(store: DataStore, options: WriteBatchOptions = {}) {
    const max = options.maxBatchSize ?? 128;
    if (!Number.isInteger(max) || max < 1 || max > 10_000) {
      throw new RangeError(`Invalid batch size ${max}: expected 1 to 10000`);
    }
    this.#store = store;
    this.#max = max;
    this.#engine = options.async;
  }

  /** Queues the create of the item `descriptor`. */
  async create(descriptor: Uint8Array): Promise<void> {
    this.#open();
    const t = descriptorTarget(descriptor, descriptorLevel(descriptor), this.#store.ring);
    const q = this.#creates.get(t) ?? [];
    q.push(descriptor);
    this.#creates.set(t, q);
    this.#pendingCreates++;
    if (q.length >= this.#max) await this.#serial(() => this.#sendCreates());
  }

  /** Queues the store of a product. */
  async store(product: QueuedProduct): Promise<void> {
    this.#open();
    const t = productTarget(product.item, this.#store.ring);
    const q = this.#products.get(t) ?? [];
    q.push(product);
    this.#products.set(t, q);
    if (q.length >= this.#max) await this.#serial(() => this.#sendProducts(t));
  }

  /** Sends every queue (and, with an engine, waits for every send this batch started). */
  flush(): Promise<void> {
    return this.#serial(async () => {
      await this.#sendCreates();
      for (const t of [...this.#products.keys()]) await this.#sendProducts(t);
      while (this.#sending.size > 0) await Promise.allSettled([...this.#sending]);
    });
  }

  /** Sends every queue and refuses further writes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
  }

  /** Closes the batch (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #open(): void {
    if (this.#closed) throw new InvalidRequestError("Write batch is closed");
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Sends every queued create, parents first, in one request. */
  async #sendCreates(): Promise<void> {
    if (this.#pendingCreates === 0) return;
    const all = [...this.#creates.values()].flat();
    this.#creates.clear();
    this.#pendingCreates = 0;
    // Parents first: a stable sort by level, read from the bytes.
    const byLevel: Uint8Array[][] = [[], [], [], []];
    for (const i of all) byLevel[descriptorLevel(i)]!.push(i);
    const items = byLevel.flat();
    const send = () => this.#store.call("create", { items });
    if (this.#engine === undefined) return void await send();
    // A child's create may follow its parent's in the next request: it waits
    // for the sends that create its parents, not for the others. Events are
    // nobody's parents: a send keeps the ids of its other items only.
    const before: Promise<unknown>[] = [];
    const parenting = [...this.#createsRunning].filter(([, ids]) => ids.size > 0);
    if (parenting.length > 0) {
      const parents = [...new Set(items.map((i) => bytesKey(parentDescriptor(i))))];
      for (const [running, ids] of parenting) {
        if (parents.some((p) => ids.has(p))) before.push(running.catch(() => {}));
      }
    }
    const { running } = await this.#background(() => Promise.all(before).then(send));
    this.#createsRunning.set(running, new Set(byLevel.slice(0, 3).flat().map(bytesKey)));
    running.catch(() => {}).finally(() => this.#createsRunning.delete(running));
  }

  async #sendProducts(target: number): Promise<void> {
    const q = this.#products.get(target);
    if (q === undefined || q.length === 0) return;
    this.#products.delete(target);
    await this.#sendCreates();
    if (this.#engine === undefined) return void await this.#store.storeProducts(q);
    // After the creates queued before these products, whichever way those went.
    const creates = Promise.all([...this.#createsRunning.keys()].map((p) => p.catch(() => {})));
    await this.#background(() => creates.then(() => this.#store.storeProducts(q)));
  }

  /**
   * Starts `op` in the engine once it has room; resolves, once started, to
   * the running operation (its error stays in the engine's `errors`).
   */
  async #background(op: () => Promise<unknown>): Promise<{ running: Promise<unknown> }> {
    let running: Promise<unknown> = Promise.resolve();
    await this.#engine!.submit(() => {
      running = op();
      const tracked: Promise<unknown> = running.catch(() => {}).finally(() =>
        this.#sending.delete(tracked)
      );
      this.#sending.add(tracked);
      return running;
    });
    return { running };
  }
}

/** Options of an async engine. */
export interface AsyncEngineOptions {
  /** Operations running at once, at most (default 16). */
  readonly maxInFlight?: number;
}

/**
 * Runs operations concurrently. `submit` resolves once the operation has
 * started (waiting while `maxInFlight` run); its error lands in `errors`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AsyncEngine } from "./batch.ts";
 * const engine = new AsyncEngine({ maxInFlight: 2 });
 * let done = 0;
 * for (let i = 0; i < 5; i++) await engine.submit(async () => { done++; });
 * await engine.submit(() => Promise.reject(new Error("boom")));
 * await engine.wait({ timeoutMs: 1000 });
 * assert.equal(done, 5);
 * assert.equal(engine.errors.length, 1);
 * ```
 */
export class AsyncEngine {
  /** Errors of the operations that failed, in the order they failed. */
  readonly errors: unknown[] = [];
  readonly #max: number;
  readonly #running = new Set<Promise<void>>();

  /** An engine running at most `maxInFlight` operations at once. */
  constructor(options: AsyncEngineOptions = {}) {
    const max = options.maxInFlight ?? 16;
    if (!Number.isInteger(max) || max < 1 || max > 4096) {
      throw new RangeError(`Invalid in-flight limit ${max}: expected 1 to 4096`);
    }
    this.#max = max;
  }

  /** Starts `op` once fewer than `maxInFlight` run. */
  async submit(op: () => Promise<unknown>): Promise<void> {
    while (this.#running.size >= this.#max) await Promise.race(this.#running);
    const p: Promise<void> = op().then(
      () => {},
      (e) => {
        this.errors.push(e);
      },
    ).finally(() => this.#running.delete(p));
    this.#running.add(p);
  }

  /** Waits until nothing runs; `WaitTimeoutError` past `timeoutMs` (default 60000). */
  async wait(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    const ms = options.timeoutMs ?? 60_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new WaitTimeoutError("~hepnos", 0, ms, {
              message: `Async engine still runs ${this.#running.size} operations after ${ms} ms`,
            }),
          ),
        ms,
      );
    });
    try {
      while (this.#running.size > 0) await Promise.race([Promise.all(this.#running), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}
