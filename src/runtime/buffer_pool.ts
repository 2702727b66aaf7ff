/**
 * A small bounded pool of scratch byte buffers for the data path, so that a
 * runtime moving fragments of the same sizes step after step reuses memory
 * it has touched already instead of allocating (and page-faulting) fresh
 * buffers every time: on the streaming benchmark (bench/streaming_bench.ts)
 * a fresh 64 MiB buffer costs about as much as the transfer itself.
 *
 * @module
 */

/** Options of a `BufferPool`. */
export interface BufferPoolOptions {
  /** Bytes of idle buffers kept for reuse; past that the least recently returned go (default 256 MiB). */
  readonly maxBytes?: number;
  /**
   * How long a buffer stays idle before the pool lets it go, in ms (default
   * 2000): a burst of reads reuses its buffers, and the memory goes back to
   * the system once the burst is over (a tmpfs or another process can then
   * have it; on this VM, memory touched for the first time costs a page
   * fault several times a copy).
   */
  readonly idleMs?: number;
}

/**
 * Scratch buffers by exact size. `take()` hands out an idle buffer of that
 * size (or a new one), `give()` takes it back once nothing refers to it any
 * more. A buffer is out or idle, never both: giving back a buffer that is
 * not out (twice, or one the pool never handed out) is a `TypeError`, so a
 * buffer can never be handed to two users at once. Pooled buffers are for
 * inputs and outputs of the data path only; what a caller receives is never
 * pooled.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BufferPool } from "./buffer_pool.ts";
 * const pool = new BufferPool({ maxBytes: 1 << 20 });
 * const a = pool.take(4096);
 * pool.give(a);
 * assert.equal(pool.take(4096), a); // the same memory, reused
 * assert.notEqual(pool.take(4096), a); // a is out: another buffer
 * ```
 */
export class BufferPool {
  readonly #maxBytes: number;
  /** Idle buffers by size, least recently returned first. */
  readonly #idle = new Map<number, Uint8Array[]>();
  /** Buffers out (weakly: one a user drops without giving back is simply collected). */
  readonly #out = new WeakSet<Uint8Array>();
  #outCount = 0;
  #idleBytes = 0;
  /** Idle buffers in the order they were returned, to drop the oldest first. */
  #order: Uint8Array[] = [];
  /** When each idle buffer was returned (performance.now()). */
  readonly #since = new WeakMap<Uint8Array, number>();
  readonly #idleMs: number;
  #trimmer: ReturnType<typeof setTimeout> | undefined;

  /** Creates an empty pool. */
  constructor(options: BufferPoolOptions = {}) {
    const max = options.maxBytes ?? 256 * 1024 * 1024;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new RangeError(`Invalid pool size ${max}: expected a non-negative integer`);
    }
    const idleMs = options.idleMs ?? 2000;
    if (!Number.isSafeInteger(idleMs) || idleMs < 1) {
      throw new RangeError(`Invalid idle time ${idleMs}: expected an integer number of ms >= 1`);
    }
    this.#maxBytes = max;
    this.#idleMs = idleMs;
  }

  /** Bytes held by idle buffers. */
  get idleBytes(): number {
    return this.#idleBytes;
  }

  /** Buffers handed out and not given back yet. */
  get outstanding(): number {
    return this.#outCount;
  }

  /** A buffer of exactly `size` bytes, with whatever bytes it held before. */
  take(size: number): Uint8Array {
    const list = this.#idle.get(size);
    const reused = list?.pop();
    let buf: Uint8Array;
    if (reused !== undefined) {
      if (list!.length === 0) this.#idle.delete(size);
      this.#idleBytes -= size;
      this.#order = this.#order.filter((b) => b !== reused);
      buf = reused;
    } else {
      buf = new Uint8Array(size);
    }
    this.#out.add(buf);
    this.#outCount++;
    return buf;
  }

  /** Takes back a buffer from `take()`; the caller must not touch it afterwards. */
  give(buf: Uint8Array): void {
    if (!this.#out.delete(buf)) {
      throw new TypeError(
        `Cannot return a buffer of ${buf.byteLength} bytes to the pool: it is not out`,
      );
    }
    this.#outCount--;
    if (buf.byteLength === 0 || buf.byteLength > this.#maxBytes) return;
    const list = this.#idle.get(buf.byteLength) ?? [];
    list.push(buf);
    this.#idle.set(buf.byteLength, list);
    this.#order.push(buf);
    this.#since.set(buf, performance.now());
    this.#idleBytes += buf.byteLength;
    while (this.#idleBytes > this.#maxBytes) this.#drop();
    this.#arm();
  }

  /** Lets the least recently returned idle buffer go. */
  #drop(): void {
    const old = this.#order.shift()!;
    const same = this.#idle.get(old.byteLength)!;
    same.splice(same.indexOf(old), 1);
    if (same.length === 0) this.#idle.delete(old.byteLength);
    this.#idleBytes -= old.byteLength;
  }

  /** Makes sure a timer lets idle buffers go once they have been idle `idleMs`. */
  #arm(): void {
    if (this.#trimmer !== undefined || this.#order.length === 0) return;
    const oldest = this.#since.get(this.#order[0]!) ?? performance.now();
    const wait = Math.max(1, Math.ceil(oldest + this.#idleMs - performance.now()));
    const timer = setTimeout(() => {
      this.#trimmer = undefined;
      const now = performance.now();
      while (
        this.#order.length > 0 && now - (this.#since.get(this.#order[0]!) ?? 0) >= this.#idleMs
      ) this.#drop();
      this.#arm();
    }, wait);
    // An idle pool never keeps a process alive.
    Deno.unrefTimer(timer);
    this.#trimmer = timer;
  }
}
