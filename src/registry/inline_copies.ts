/**
 * The bytes of small copies, kept by the name server for the commit
 * notices it pushes to subscribers: a consumer's runtime then takes a small
 * version from its notice instead of fetching it from the node that holds
 * it (one round trip fewer per step of a stream of small steps). The bytes
 * are a cache, never a copy: the record still names the node's copy, a
 * reader checks the bytes against the record's checksum, and what the cache
 * lets go is fetched as before.
 *
 * @module
 */

import { type FragmentRecord, INLINE_MAX_BYTES } from "../name_service/name_service.ts";
import { copyKey } from "../tiers/copy_keys.ts";

/** Bounds of an `InlineCopies` cache. */
export interface InlineCopiesOptions {
  /** Bytes kept at most, all copies together (default 64 MiB). */
  readonly maxBytes?: number;
  /** Copies kept at most (default 65,536). */
  readonly maxCopies?: number;
}

/** A kept copy: its record's identity and checksum, and its bytes. */
interface Kept {
  readonly node: string;
  readonly checksum: number;
  readonly bytes: Uint8Array;
}

/**
 * Bytes of small copies by copy, least recently kept dropped first once
 * `maxBytes` or `maxCopies` is reached. `get` answers only bytes that match
 * the record asked about (node, size and checksum): a copy republished or
 * overwritten since is never answered with its old bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InlineCopies } from "./inline_copies.ts";
 * const cache = new InlineCopies({ maxCopies: 1 });
 * const record = {
 *   dataset: "d", version: 1, fragment: "dataset", bindings: {},
 *   node: "n1", tier: "memory", byteLength: 2, checksum: 7,
 * };
 * cache.keep(record, new Uint8Array([1, 2]));
 * assert.deepEqual(cache.get(record), new Uint8Array([1, 2]));
 * assert.equal(cache.get({ ...record, checksum: 8 }), undefined); // other bytes
 * cache.keep({ ...record, version: 2 }, new Uint8Array([3, 4])); // the first goes
 * assert.equal(cache.get(record), undefined);
 * ```
 */
export class InlineCopies {
  readonly #maxBytes: number;
  readonly #maxCopies: number;
  /** Kept copies by copy key, oldest first. */
  readonly #kept = new Map<string, Kept>();
  #bytes = 0;

  /** An empty cache with these bounds. */
  constructor(options: InlineCopiesOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 64 << 20;
    this.#maxCopies = options.maxCopies ?? 65_536;
  }

  /** Bytes held, all copies together. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Copies held. */
  get size(): number {
    return this.#kept.size;
  }

  /**
   * Keeps `bytes` as the bytes of `record`'s copy (replacing what was kept
   * for it; a view of a larger buffer is copied first); ignored when they do
   * not have the record's size or are larger than `INLINE_MAX_BYTES`.
   */
  keep(record: FragmentRecord, bytes: Uint8Array): void {
    if (bytes.byteLength !== record.byteLength || bytes.byteLength > INLINE_MAX_BYTES) return;
    const key = keyOf(record);
    this.#drop(key);
    // A view of a larger buffer (a request body) would keep all of it alive, uncounted.
    const own = bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    this.#kept.set(key, { node: record.node, checksum: record.checksum, bytes: own });
    this.#bytes += bytes.byteLength;
    while (this.#bytes > this.#maxBytes || this.#kept.size > this.#maxCopies) {
      this.#drop(this.#kept.keys().next().value!);
    }
  }

  /** The bytes kept for `record`'s copy, when they are that copy's (same node, size and checksum). */
  get(record: FragmentRecord): Uint8Array | undefined {
    if (record.byteLength > INLINE_MAX_BYTES) return undefined;
    const kept = this.#kept.get(keyOf(record));
    if (
      kept === undefined || kept.node !== record.node || kept.checksum !== record.checksum ||
      kept.bytes.byteLength !== record.byteLength
    ) return undefined;
    return kept.bytes;
  }

  /** Lets the bytes kept for `record`'s copy go (its version retired). */
  forget(record: FragmentRecord): void {
    if (record.byteLength <= INLINE_MAX_BYTES) this.#drop(keyOf(record));
  }

  /** Lets every kept copy go. */
  clear(): void {
    this.#kept.clear();
    this.#bytes = 0;
  }

  #drop(key: string): void {
    const old = this.#kept.get(key);
    if (old === undefined) return;
    this.#kept.delete(key);
    this.#bytes -= old.bytes.byteLength;
  }
}

function keyOf(r: FragmentRecord): string {
  return copyKey(r.dataset, r.version, r.fragment, r.bindings);
}
