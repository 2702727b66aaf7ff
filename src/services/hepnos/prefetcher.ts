/**
 * Reading ahead: a `Prefetcher` walks items a batch at a time and loads the
 * products registered with `fetchProduct` for the whole batch in one
 * request, keeping them until `load(..., { prefetcher })` takes them. While
 * the caller works on one batch, the next one's products are on their way
 * (when the cache holds two batches), as HEPnOS's prefetcher loads in the
 * background.
 *
 * @module
 */

import type { DataStore } from "./client.ts";
import type { ItemHandle } from "./items.ts";

/** Options of a prefetcher. */
export interface PrefetcherOptions {
  /** Items whose products are held at most (default 16). */
  readonly cacheSize?: number;
  /** Items read per request (default 16). */
  readonly batchSize?: number;
}

/**
 * A prefetcher. Products prefetched and never loaded are dropped when the
 * cache needs room (HEPnOS keeps them; a bounded cache does not).
 *
 * @example
 * ```ts ignore
 * const prefetcher = new Prefetcher(store, { cacheSize: 64, batchSize: 32 });
 * prefetcher.fetchProduct("hits", "Float64Array");
 * for await (const event of prefetcher.walk(subrun.events())) {
 *   const hits = await event.loadArray("hits", Float64Array, { prefetcher });
 * }
 * ```
 */
export class Prefetcher {
  readonly #store: DataStore;
  readonly #cacheSize: number;
  readonly #batchSize: number;
  readonly #wanted: { label: string; type: string }[] = [];
  readonly #cache = new Map<string, Uint8Array | null>();

  /** A prefetcher reading from `store`. */
  constructor(store: DataStore, options: PrefetcherOptions = {}) {
    this.#store = store;
    this.#cacheSize = check(options.cacheSize ?? 16, "cache size");
    this.#batchSize = check(options.batchSize ?? 16, "batch size");
  }

  /** Prefetches product (`label`, `type`) of every item walked. */
  fetchProduct(label: string, type: string): void {
    this.#wanted.push({ label, type });
  }

  /** Products held now. */
  get held(): number {
    return this.#cache.size;
  }

  /**
   * The items of `source`, each batch's registered products loaded before
   * its items are yielded. With room in the cache for two batches
   * (`cacheSize` at least twice `batchSize`), the next batch's products
   * load while the caller works on the current one; a failed load is
   * thrown when its batch is reached.
   */
  async *walk<T extends ItemHandle>(source: AsyncIterable<T>): AsyncIterableIterator<T> {
    // Batches whose products are loading, oldest first: two when the cache holds two.
    const depth = this.#cacheSize >= 2 * this.#batchSize ? 2 : 1;
    const loading: { readonly items: T[]; readonly loaded: Promise<void> }[] = [];
    const start = (items: T[]) => {
      const loaded = this.prefetch(items);
      // Awaited when its batch is reached; until then a failure must not go unhandled.
      loaded.catch(() => {});
      loading.push({ items, loaded });
    };
    let batch: T[] = [];
    for await (const item of source) {
      batch.push(item);
      if (batch.length < this.#batchSize) continue;
      start(batch);
      batch = [];
      while (loading.length >= depth) {
        const oldest = loading.shift()!;
        await oldest.loaded;
        yield* oldest.items;
      }
    }
    if (batch.length > 0) start(batch);
    for (const b of loading) {
      await b.loaded;
      yield* b.items;
    }
  }

  /** Loads the registered products of `items` in one request. */
  async prefetch(items: readonly ItemHandle[]): Promise<void> {
    if (this.#wanted.length === 0 || items.length === 0) return;
    const products = items.flatMap((i) =>
      this.#wanted.map((w) => ({ item: i.descriptor, label: w.label, type: w.type }))
    );
    const values = await this.#store.loadProducts(products);
    const room = Math.max(this.#cacheSize, items.length) * this.#wanted.length;
    values.forEach((v, i) => {
      const p = products[i]!;
      this.#cache.set(keyOf(p.item, p.label, p.type), v ?? null);
    });
    // Oldest entries go first when the cache is over its size.
    for (const k of this.#cache.keys()) {
      if (this.#cache.size <= room) break;
      this.#cache.delete(k);
    }
  }

  /**
   * Takes a prefetched product out of the cache: its bytes, `null` when it
   * was prefetched and absent, undefined when it was not prefetched.
   */
  take(item: Uint8Array, label: string, type: string): Uint8Array | null | undefined {
    const k = keyOf(item, label, type);
    const v = this.#cache.get(k);
    this.#cache.delete(k);
    return v;
  }
}

function keyOf(item: Uint8Array, label: string, type: string): string {
  return `${item.join(",")}|${label}#${type}`;
}

function check(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new RangeError(`Invalid ${what} ${n}: expected 1 to 10000`);
  }
  return n;
}
