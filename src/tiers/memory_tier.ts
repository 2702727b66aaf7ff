/**
 * The memory tier: copies held in the runtime's heap, up to a capacity.
 *
 * @module
 */

import { TierFullError } from "../errors.ts";
import type { Tier, TierEntry, TierInfo } from "./tier.ts";

/**
 * A tier in process memory. Copies are kept by reference: the caller hands
 * over the buffer and must not change it afterwards. Nothing survives a
 * restart.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryTier } from "./memory_tier.ts";
 * const t = new MemoryTier("memory", 1024);
 * await t.put("a", new Uint8Array([1, 2, 3]));
 * assert.deepEqual(await t.get("a"), new Uint8Array([1, 2, 3]));
 * assert.equal(t.info().used, 3);
 * ```
 */
export class MemoryTier implements Tier {
  readonly name: string;
  readonly #capacity: number;
  readonly #copies = new Map<string, Uint8Array>();
  #used = 0;

  /** Creates an empty tier of `capacity` bytes. */
  constructor(name: string, capacity: number) {
    this.name = name;
    this.#capacity = capacity;
  }

  put(key: string, bytes: Uint8Array): Promise<void> {
    const old = this.#copies.get(key)?.byteLength ?? 0;
    if (this.#used - old + bytes.byteLength > this.#capacity) {
      return Promise.reject(
        new TierFullError(this.name, {
          capacity: this.#capacity,
          used: this.#used,
          requested: bytes.byteLength,
        }),
      );
    }
    this.#copies.set(key, bytes);
    this.#used += bytes.byteLength - old;
    return Promise.resolve();
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return Promise.resolve(this.#copies.get(key));
  }

  delete(key: string): Promise<boolean> {
    const old = this.#copies.get(key);
    if (old === undefined) return Promise.resolve(false);
    this.#copies.delete(key);
    this.#used -= old.byteLength;
    return Promise.resolve(true);
  }

  has(key: string): Promise<boolean> {
    return Promise.resolve(this.#copies.has(key));
  }

  list(): TierEntry[] {
    return [...this.#copies].map(([key, b]) => ({ key, byteLength: b.byteLength }));
  }

  info(): TierInfo {
    return {
      name: this.name,
      kind: "memory",
      capacity: this.#capacity,
      used: this.#used,
      count: this.#copies.size,
      persistent: false,
    };
  }
}
