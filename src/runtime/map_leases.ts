/**
 * Leases of copies that processes of this node map in place: a consumer on
 * the runtime's node reads a copy held in an shm tier by mapping its file
 * read-only, copying nothing, and the runtime keeps the bytes while the
 * lease lives.
 *
 * @module
 */

import { BusyError, InvalidRequestError, NotFoundError } from "../errors.ts";

/** What the leases need of the node's tiers (`TierSet` has it). */
export interface MappableTiers {
  /** The file of `key`'s copy on an shm tier, when one holds it. */
  shmFileOf(key: string): { readonly tier: string; readonly path: string } | undefined;
  /** Keeps the spill rule off `key` until the returned function is called. */
  pin(key: string): (() => void) | undefined;
}

/** Options of `MapLeases`, each with its default. */
export interface MapLeaseOptions {
  /** Lease length when the caller asks for none, in ms (default 30 000). */
  readonly ttlMs?: number;
  /** Longest lease a caller may ask for, in ms (default 600 000: ten minutes). */
  readonly maxTtlMs?: number;
  /** Leases held at once; one more is 503 `busy` (default 1024). */
  readonly maxLeases?: number;
  /** How often expired leases are swept, in ms (default 1000). */
  readonly sweepMs?: number;
  /** The clock, in ms (default `Date.now`). */
  readonly now?: () => number;
}

/** A granted lease: where the copy's bytes are and until when they stay. */
export interface MapGrant {
  /** The lease's id, for renew and release. */
  readonly lease: string;
  /** Absolute path of a file holding the copy's bytes, to map read-only. */
  readonly path: string;
  /** Where the copy starts in the file (0: the file is the copy). */
  readonly offset: number;
  /** The copy's size in bytes. */
  readonly byteLength: number;
  /** The tier that holds the copy. */
  readonly tier: string;
  /** When the lease ends unless renewed, ms since the epoch. */
  readonly expiresAt: number;
  /** The lease's length, in ms. */
  readonly ttlMs: number;
}

interface Held {
  readonly link: string;
  readonly unpin: () => void;
  expiresAt: number;
}

/** Subdirectory of an shm tier's directory holding the leases' links (a tier indexes only files). */
const LEASE_DIR = ".leases";

/**
 * The map leases of one node. A grant hard-links the copy's file into the
 * tier's `.leases` directory (same tmpfs: no byte is copied) and pins the
 * copy against the spill rule. The tier stays free to overwrite or free the
 * copy (a new file is renamed over the old name; a freed one is unlinked):
 * the lease's link keeps the bytes the caller maps whole and unchanged until
 * the lease is released or expires, when the link goes and the pin with it.
 * A link left by a runtime that stopped is removed the first time a lease
 * is granted in that directory again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MapLeases } from "./map_leases.ts";
 * await Deno.mkdir("tmp", { recursive: true });
 * const dir = await Deno.makeTempDir({ dir: "tmp" });
 * await Deno.writeFile(`${dir}/copy.bin`, new Uint8Array([1, 2, 3]));
 * let pinned = 0;
 * const tiers = {
 *   shmFileOf: (key: string) => key === "d/1/f/" ? { tier: "shm", path: `${dir}/copy.bin` } : undefined,
 *   pin: () => (pinned++, () => pinned--),
 * };
 * const leases = new MapLeases(tiers);
 * const grant = await leases.grant("d/1/f/", 3);
 * assert.ok(grant !== undefined && pinned === 1);
 * await Deno.remove(`${dir}/copy.bin`); // the tier frees the copy: the lease still holds it
 * assert.deepEqual(await Deno.readFile(grant.path), new Uint8Array([1, 2, 3]));
 * assert.equal(await leases.release(grant.lease), true);
 * assert.equal(pinned, 0);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class MapLeases {
  readonly #tiers: MappableTiers;
  readonly #ttl: number;
  readonly #maxTtl: number;
  readonly #max: number;
  readonly #sweepMs: number;
  readonly #now: () => number;
  readonly #held = new Map<string, Held>();
  /** Lease directories made ready (stale links of an earlier run removed). */
  readonly #dirs = new Map<string, Promise<string>>();
  #sweeper: number | undefined;

  /** Creates the leases of the node whose tiers are `tiers`. */
  constructor(tiers: MappableTiers, options: MapLeaseOptions = {}) {
    this.#tiers = tiers;
    this.#ttl = options.ttlMs ?? 30_000;
    this.#maxTtl = options.maxTtlMs ?? 600_000;
    this.#max = options.maxLeases ?? 1024;
    this.#sweepMs = options.sweepMs ?? 1000;
    this.#now = options.now ?? Date.now;
    if (!(this.#ttl > 0 && this.#ttl <= this.#maxTtl)) {
      throw new RangeError(
        `Invalid map lease length: expected 1 to ${this.#maxTtl} ms, found ${this.#ttl}`,
      );
    }
  }

  /** Leases held now. */
  get size(): number {
    return this.#held.size;
  }

  /**
   * Leases the shm copy under `key` of `byteLength` bytes; undefined when no
   * shm tier of the node holds it (the caller attaches over HTTP instead).
   * `invalid_request` for a length past the longest, `busy` past the bound.
   */
  async grant(
    key: string,
    byteLength: number,
    options: { readonly ttlMs?: number } = {},
  ): Promise<MapGrant | undefined> {
    const ttlMs = this.#checkTtl(options.ttlMs);
    this.#sweep();
    if (this.#held.size >= this.#max) {
      throw new BusyError(
        `Cannot lease a mapping of '${key}': ${this.#max} map leases are held; release some or wait`,
      );
    }
    const file = this.#tiers.shmFileOf(key);
    if (file === undefined) return undefined;
    const unpin = this.#tiers.pin(key);
    if (unpin === undefined) return undefined;
    const dir = `${file.path.slice(0, file.path.lastIndexOf("/"))}/${LEASE_DIR}`;
    const lease = crypto.randomUUID();
    const link = `${dir}/${lease}.bin`;
    try {
      const real = await this.#ready(dir);
      // Synchronous: metadata calls on a tmpfs take microseconds, while each
      // asynchronous one waits for a thread, which 16 reader processes on
      // the node's cores made 20-36 ms a request (bench/restart_bench.ts).
      Deno.linkSync(file.path, link);
      // The copy may have been freed or rewritten at another size meanwhile.
      if (Deno.statSync(link).size !== byteLength) {
        Deno.removeSync(link);
        unpin();
        return undefined;
      }
      const path = `${real}/${lease}.bin`;
      const expiresAt = this.#now() + ttlMs;
      this.#held.set(lease, { link, unpin, expiresAt });
      this.#startSweeper();
      return { lease, path, offset: 0, byteLength, tier: file.tier, expiresAt, ttlMs };
    } catch (e) {
      unpin();
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  /** Extends a lease by `ttlMs` from now; `not_found` when it was released or expired. */
  renew(
    lease: string,
    options: { readonly ttlMs?: number } = {},
  ): { lease: string; expiresAt: number; ttlMs: number } {
    const ttlMs = this.#checkTtl(options.ttlMs);
    const held = this.#held.get(lease);
    if (held === undefined || held.expiresAt <= this.#now()) {
      throw new NotFoundError(
        `Unknown map lease '${
          lease.slice(0, 64)
        }': it was released or expired; map the fragment again`,
      );
    }
    held.expiresAt = this.#now() + ttlMs;
    return { lease, expiresAt: held.expiresAt, ttlMs };
  }

  /** Ends a lease now; returns whether it was held. */
  release(lease: string): Promise<boolean> {
    const held = this.#held.get(lease);
    if (held === undefined) return Promise.resolve(false);
    this.#end(lease, held);
    return Promise.resolve(true);
  }

  /** Ends every lease (the runtime is closing). */
  close(): Promise<void> {
    for (const [lease, held] of [...this.#held]) this.#end(lease, held);
    return Promise.resolve();
  }

  #checkTtl(ttlMs: number | undefined): number {
    if (ttlMs === undefined) return this.#ttl;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1 || ttlMs > this.#maxTtl) {
      throw new InvalidRequestError(
        `Invalid map lease length: expected 1 to ${this.#maxTtl} ms, found ${ttlMs}`,
      );
    }
    return ttlMs;
  }

  #end(lease: string, held: Held): void {
    this.#held.delete(lease);
    held.unpin();
    if (this.#held.size === 0 && this.#sweeper !== undefined) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
    try {
      Deno.removeSync(held.link);
    } catch { /* gone with its directory */ }
  }

  #sweep(): void {
    const now = this.#now();
    for (const [lease, held] of [...this.#held]) {
      if (held.expiresAt <= now) this.#end(lease, held);
    }
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => this.#sweep(), this.#sweepMs) as unknown as number;
    // Leases never keep a process alive that has nothing else to do.
    Deno.unrefTimer(this.#sweeper);
  }

  /**
   * Creates a lease directory, removing the links an earlier run left there;
   * answers its absolute path.
   */
  #ready(dir: string): Promise<string> {
    let ready = this.#dirs.get(dir);
    if (ready === undefined) {
      ready = (async () => {
        await Deno.remove(dir, { recursive: true }).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
        await Deno.mkdir(dir, { recursive: true });
        return await Deno.realPath(dir);
      })();
      this.#dirs.set(dir, ready);
      ready.catch(() => this.#dirs.delete(dir));
    }
    return ready;
  }
}

/** The one lease book of each node's tiers: its `.leases` directories have one keeper. */
const books = new WeakMap<MappableTiers, MapLeases>();

/**
 * The map leases of the node whose tiers are `tiers`, made at first use
 * and shared by whoever leases its copies (the map routes, the services'
 * blobs): a second book would remove the first one's links as stale when
 * it makes a lease directory ready.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeLeases } from "./map_leases.ts";
 * const tiers = { shmFileOf: () => undefined, pin: () => undefined };
 * assert.equal(nodeLeases(tiers), nodeLeases(tiers));
 * ```
 */
export function nodeLeases(tiers: MappableTiers): MapLeases {
  let book = books.get(tiers);
  if (book === undefined) {
    book = new MapLeases(tiers);
    books.set(tiers, book);
  }
  return book;
}
