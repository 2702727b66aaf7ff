/**
 * The parallel event processor's client: ranks (workers or processes) that
 * start one job on a dataset, then pull batches of its events from the
 * job's loaders (their own first, then stealing) until every loader is
 * exhausted; each event goes to exactly one rank.
 *
 * @module
 */

import type { DataStore } from "./client.ts";
import { decodeItem } from "./codec.ts";
import { type DataSet, Event } from "./items.ts";

/** Options of one rank's processor. */
export interface ProcessorOptions {
  /** The job's name: every rank of one run passes the same. */
  readonly job: string;
  /** This rank. */
  readonly rank: number;
  /** How many ranks take part. */
  readonly ranks: number;
  /** Events a loader reads from the store at a time (default 16). */
  readonly inputBatchSize?: number;
  /** Events a rank takes at a time (default 16). */
  readonly outputBatchSize?: number;
}

/** The products preloaded for an event, by `label#type`. */
export type ProductCache = ReadonlyMap<string, Uint8Array | undefined>;

/**
 * One rank of a parallel event processor.
 *
 * @example
 * ```ts ignore
 * const pep = new ParallelEventProcessor(store, { job: "pass-1", rank, ranks: 4 });
 * pep.preload("hits", "Float64Array");
 * const { processed } = await pep.process(dataset, async (event, products) => {
 *   const hits = products.get("hits#Float64Array");
 * });
 * ```
 */
export class ParallelEventProcessor {
  readonly #store: DataStore;
  readonly #options: ProcessorOptions;
  readonly #preload: { label: string; type: string }[] = [];

  /** A rank of job `options.job`. */
  constructor(store: DataStore, options: ProcessorOptions) {
    if (!Number.isInteger(options.rank) || options.rank < 0 || options.rank >= options.ranks) {
      throw new RangeError(`Invalid rank ${options.rank}: expected 0 to ${options.ranks - 1}`);
    }
    this.#store = store;
    this.#options = options;
  }

  /** Loads product (`label`, `type`) of every event before `fn` sees it. */
  preload(label: string, type: string): void {
    this.#preload.push({ label, type });
  }

  /** Runs `fn` on this rank's share of the events of `dataset`; answers how many it processed. */
  async process(
    dataset: DataSet,
    fn: (event: Event, products: ProductCache) => unknown,
  ): Promise<{ processed: number }> {
    const o = this.#options;
    // A job's loaders and cursors live on the runtime its name hashes to: asked there straight.
    const runtime = this.#store.runtimeOfKey(new TextEncoder().encode(o.job));
    await this.#store.call("processor_start", {
      job: o.job,
      dataset: dataset.uuid,
      ranks: o.ranks,
      inputBatchSize: o.inputBatchSize ?? 16,
    }, runtime);
    let processed = 0;
    for (;;) {
      const { items } = await this.#store.call<{ items: Uint8Array[] }>("processor_next", {
        job: o.job,
        rank: o.rank,
        n: o.outputBatchSize ?? 16,
      }, runtime);
      if (items.length === 0) return { processed };
      const events = items.map((d) => new Event(this.#store, decodeItem(d)));
      const caches = await this.#load(events);
      for (let i = 0; i < events.length; i++) {
        await fn(events[i]!, caches[i]!);
        processed++;
      }
    }
  }

  async #load(events: readonly Event[]): Promise<ProductCache[]> {
    if (this.#preload.length === 0) return events.map(() => new Map());
    const products = events.flatMap((e) =>
      this.#preload.map((p) => ({ item: e.descriptor, label: p.label, type: p.type }))
    );
    const values = await this.#store.loadProducts(products);
    return events.map((_, i) =>
      new Map(this.#preload.map((p, j) => [
        `${p.label}#${p.type}`,
        values[i * this.#preload.length + j],
      ]))
    );
  }
}
