/**
 * A bounded, least-recently-used cache of the values of keys that one
 * process alone writes (a service's keys of the targets this runtime holds,
 * whose writes the host routes here). A load served from it costs a map
 * lookup instead of a KV read: a batched load of 128 small products waited
 * about 2 ms for KV's reads (bench/services_bench.ts).
 *
 * Writes keep it right: `write` drops the keys before the commit and sets
 * the values that applied after it; a value read from KV is kept (`fill`)
 * only when no write of any key began or ended since the read began and
 * none of its key is in flight. Two writes of one key in flight at once
 * leave it out of the cache until a read fills it again, since their commit
 * order is not known here.
 *
 * Keys are byte strings (`BytesMap`), held as given: a key written or
 * filled must not change afterwards.
 *
 * @module
 */

import { BytesMap } from "./bytes_map.ts";

/** Bytes an entry costs besides its value (its key, the map's slot): bounds the count of small ones. */
const ENTRY_BYTES = 64;

/** Options of a value cache. */
export interface ValueCacheOptions {
  /**
   * Bytes held at most (values, keys, 64 per entry; a buffer that values
   * kept as views share counts whole); the least recently used go first,
   * half of them at a time. An entry past half of it is not kept.
   */
  readonly maxBytes: number;
  /** Largest value kept, in bytes (default: `maxBytes`). */
  readonly maxValueBytes?: number;
}

/**
 * The cache.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ValueCache } from "./value_cache.ts";
 * const key = (s: string) => new TextEncoder().encode(s);
 * const cache = new ValueCache({ maxBytes: 1024 });
 * await cache.write([key("a")], async () => [new Uint8Array([1])]);
 * assert.deepEqual(cache.get(key("a")), new Uint8Array([1]));
 * // A read from the store fills the cache only if no write ran meanwhile.
 * const since = cache.epoch;
 * await cache.write([key("b")], async () => [new Uint8Array([2])]);
 * cache.fill(key("c"), new Uint8Array([3]), since);
 * assert.equal(cache.get(key("c")), undefined);
 * ```
 */
export class ValueCache {
  readonly #maxBytes: number;
  readonly #maxValueBytes: number;
  /**
   * Two generations, each of at most half the bytes: values set or used
   * since the last turn (`#young`), and those of the turn before (`#old`),
   * dropped whole at the next turn. Least recently used out first, in
   * halves: an LRU list in one `Map` (delete and set again on each use,
   * evict from the front) walked over the holes its deletes leave at the
   * front on every eviction, which slowed stores once the cache was full.
   */
  #young = new Generation();
  #old = new Generation();
  /** Writes in flight per key, and whether two of them overlapped. */
  readonly #writing = new BytesMap<{ count: number; overlapped: boolean }>();
  #epoch = 0;

  /** An empty cache of at most `maxBytes` bytes of values. */
  constructor(options: ValueCacheOptions) {
    const { maxBytes } = options;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new RangeError(`Invalid cache size ${maxBytes}: expected a byte count of 0 or more`);
    }
    this.#maxBytes = maxBytes;
    this.#maxValueBytes = Math.min(options.maxValueBytes ?? maxBytes, maxBytes);
  }

  /** Bytes held: values (the whole buffers views of them share), keys, and 64 per entry. */
  get bytes(): number {
    return this.#young.bytes + this.#old.bytes;
  }

  /** Values held. */
  get size(): number {
    return this.#young.entries.size + this.#old.entries.size;
  }

  /** Changes whenever a write begins or ends: take it before a read that may `fill`. */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * The value of `key` (shared: callers must not change it), or undefined
   * when not held. `key` may be a view of a reused buffer: it is not kept.
   */
  get(key: Uint8Array): Uint8Array | undefined {
    const h = this.#writing.hash(key);
    const young = this.#young.entries.get(key, h);
    if (young !== undefined) return young;
    const old = this.#old.remove(key, h);
    if (old === undefined) return undefined;
    // Used: into the young generation, under the key the old one held.
    this.#add(old.key, old.value, h);
    return old.value;
  }

  /**
   * Keeps `value` of `key`, read from the store after `since` (an `epoch`),
   * unless a write began or ended since then or one of `key` is in flight.
   */
  fill(key: Uint8Array, value: Uint8Array, since: number): void {
    const h = this.#writing.hash(key);
    if (since !== this.#epoch || this.#writing.has(key, h)) return;
    this.#set(key, value, false, h);
  }

  /**
   * Drops `key` after a write the cache did not run (another writer's
   * commit): reads under way do not fill, a write of it under way does not
   * set it.
   */
  forget(key: Uint8Array): void {
    this.#epoch++;
    const h = this.#writing.hash(key);
    this.#drop(key, h);
    const w = this.#writing.get(key, h);
    if (w !== undefined) w.overlapped = true;
  }

  /**
   * Runs `commit`, a write of `keys` that answers, per key, the value it
   * now holds (undefined: not written, or no longer known). The keys are
   * dropped before it runs and set to its answer once it resolves; on an
   * error they stay dropped.
   */
  async write(
    keys: readonly Uint8Array[],
    commit: () => Promise<readonly (Uint8Array | undefined)[]>,
  ): Promise<void> {
    this.#epoch++;
    // Each key hashed once, for every map it goes through.
    const hashes = keys.map((k) => this.#writing.hash(k));
    keys.forEach((k, i) => {
      const h = hashes[i]!;
      this.#drop(k, h);
      const w = this.#writing.get(k, h);
      if (w === undefined) this.#writing.set(k, { count: 1, overlapped: false }, h);
      else {
        w.count++;
        w.overlapped = true;
      }
    });
    let values: readonly (Uint8Array | undefined)[] = [];
    try {
      values = await commit();
    } finally {
      this.#epoch++;
      const kept = keys.map((k, i) => {
        const w = this.#writing.get(k, hashes[i])!;
        if (--w.count === 0) this.#writing.delete(k, hashes[i]);
        return w.overlapped ? undefined : values[i];
      });
      const views = this.#viewable(kept);
      keys.forEach((k, i) => {
        const v = kept[i];
        // Not held: dropped before the commit, and nothing sets a key while a write of it runs.
        if (v !== undefined) this.#set(k, v, views.has(v.buffer), hashes[i]!, false);
        else this.#drop(k, hashes[i]!);
      });
    }
  }

  /**
   * The buffers of which `values` may be kept as views rather than copies:
   * those the values fill at least half of, and that fit a generation. A
   * batch's values in one request body are kept without a copy, which on
   * a fresh page costs more than the copy itself; the buffer then counts
   * whole, once per generation, so the cache's bytes still bound the
   * memory it keeps alive.
   */
  #viewable(values: readonly (Uint8Array | undefined)[]): Set<ArrayBufferLike> {
    const filled = new Map<ArrayBufferLike, number>();
    for (const v of values) {
      if (v === undefined || v.byteLength > this.#maxValueBytes) continue;
      filled.set(v.buffer, (filled.get(v.buffer) ?? 0) + v.byteLength);
    }
    const out = new Set<ArrayBufferLike>();
    for (const [buffer, bytes] of filled) {
      if (2 * bytes >= buffer.byteLength && buffer.byteLength <= this.#maxBytes / 4) {
        out.add(buffer);
      }
    }
    return out;
  }

  /**
   * Keeps `value` for `key` (whose hash is `h`): a view of a larger buffer
   * as it is with `view`, else a copy; the entry `key` had is dropped first
   * unless `held` is false (the key is known not to be held).
   */
  #set(key: Uint8Array, value: Uint8Array, view: boolean, h: number, held = true): void {
    if (held) this.#drop(key, h);
    if (value.byteLength > this.#maxValueBytes || cost(key, value) > this.#maxBytes / 2) return;
    // A view of a larger buffer (a request body) would keep all of it
    // alive: a copy unless the buffer counts whole (`#viewable`).
    const shared = value.byteLength !== value.buffer.byteLength;
    this.#add(key, !shared || view ? value : copy(value), h);
  }

  /** Adds an entry no generation holds to the young one, turning first when it has no room. */
  #add(key: Uint8Array, value: Uint8Array, h: number): void {
    if (this.#young.bytes + this.#young.costOf(key, value) > this.#maxBytes / 2) {
      this.#old = this.#young;
      this.#young = new Generation();
    }
    this.#young.add(key, value, h);
  }

  #drop(key: Uint8Array, h: number): void {
    this.#young.remove(key, h);
    this.#old.remove(key, h);
  }
}

/**
 * One generation of the cache: its entries and the bytes they cost. An
 * entry that is a view of a larger buffer costs its key and slot; the
 * buffer counts whole, once, while a view of it is held here.
 */
class Generation {
  readonly entries = new BytesMap<Uint8Array>();
  bytes = 0;
  /** Entries viewing each shared buffer. */
  readonly #views = new Map<ArrayBufferLike, number>();

  /** What holding `value` as `key` would add to `bytes`. */
  costOf(key: Uint8Array, value: Uint8Array): number {
    if (value.byteLength === value.buffer.byteLength) return cost(key, value);
    return key.byteLength + ENTRY_BYTES +
      (this.#views.has(value.buffer) ? 0 : value.buffer.byteLength);
  }

  add(key: Uint8Array, value: Uint8Array, h: number): void {
    this.bytes += this.costOf(key, value);
    this.entries.set(key, value, h);
    if (value.byteLength !== value.buffer.byteLength) {
      this.#views.set(value.buffer, (this.#views.get(value.buffer) ?? 0) + 1);
    }
  }

  /** Removes `key`'s entry, if held; answers it (the key as held, and its value). */
  remove(
    key: Uint8Array,
    h: number,
  ): { readonly key: Uint8Array; readonly value: Uint8Array } | undefined {
    const entry = this.entries.delete(key, h);
    if (entry === undefined) return undefined;
    const { value } = entry;
    if (value.byteLength === value.buffer.byteLength) {
      this.bytes -= cost(key, value);
      return entry;
    }
    this.bytes -= key.byteLength + ENTRY_BYTES;
    const views = this.#views.get(value.buffer)! - 1;
    if (views > 0) this.#views.set(value.buffer, views);
    else {
      this.#views.delete(value.buffer);
      this.bytes -= value.buffer.byteLength;
    }
    return entry;
  }
}

function cost(key: Uint8Array, value: Uint8Array): number {
  return key.byteLength + value.byteLength + ENTRY_BYTES;
}

function copy(value: Uint8Array): Uint8Array {
  const out = new Uint8Array(value.byteLength);
  out.set(value);
  return out;
}
