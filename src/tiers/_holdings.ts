/**
 * The index of the copies a node's tiers hold: which tiers hold each key,
 * each tier's least-recently-used order, and the bytes a tier shares with
 * another (droppable without a move).
 *
 * @module
 */

import type { ReshapeChoice } from "./policy.ts";
import type { DeclaredTier } from "./tier_config.ts";

/** The copies of one key. */
export interface Holding {
  /** The key. */
  readonly key: string;
  /** Tiers holding a copy. */
  readonly tiers: Set<string>;
  /** Size of a copy. */
  byteLength: number;
  /** Logical time of the last write or read: the spill rule demotes the smallest first. */
  lastUse: number;
  /** Whether its dataset is durable: it then only spills to persistent tiers. */
  durable: boolean;
  /** Where reshapes of it run. */
  reshape: ReshapeChoice;
  /** The tier last announced as primary (what the registry names). */
  recorded: string;
  /** Writes, flushes and map leases of this key under way: the spill rule leaves it alone. */
  busy: number;
  /** A demotion of this key under way: a delete waits for it. */
  moving: Promise<void> | undefined;
  /** Which write of the key stored the bytes held. */
  generation: number;
}

/** A declared tier and its place in the order, fastest first. */
export type RankedTier = DeclaredTier & { readonly rank: number };

/**
 * The copies held on a node's tiers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Holdings } from "./_holdings.ts";
 * import { KIND_DEFAULTS, MemoryTier } from "./mod.ts";
 * const spec = (name: string) => ({ name, kind: "memory", capacity: 100, ...KIND_DEFAULTS.memory } as const);
 * const holdings = new Holdings([
 *   { tier: new MemoryTier("fast", 100), spec: spec("fast") },
 *   { tier: new MemoryTier("slow", 100), spec: spec("slow") },
 * ]);
 * const h = holdings.create("k", 10, false);
 * holdings.attach(h, "fast");
 * holdings.attach(h, "slow");
 * assert.equal(holdings.sharedOn("fast"), 10);
 * assert.equal(holdings.primary(h.tiers), "fast");
 * ```
 */
export class Holdings {
  /** The tiers by name, with their rank. */
  readonly byName: ReadonlyMap<string, RankedTier>;
  readonly #copies = new Map<string, Holding>();
  /** Per tier, bytes of its copies that another tier also holds (droppable without a move). */
  readonly #shared = new Map<string, number>();
  /** Per tier, its copies least recently used (or arrived) first: the spill rule's candidates. */
  readonly #lru = new Map<string, Map<string, Holding>>();
  #clock = 0;
  /** The copy touched last, while no list changed since: touching it again moves nothing. */
  #last: Holding | undefined;

  /** An empty index over `tiers`, fastest first. */
  constructor(tiers: readonly DeclaredTier[]) {
    this.byName = new Map(tiers.map((t, rank) => [t.spec.name, { ...t, rank }]));
    for (const { spec } of tiers) this.#lru.set(spec.name, new Map());
  }

  /** The copies of `key`, if any are held or being written. */
  get(key: string): Holding | undefined {
    return this.#copies.get(key);
  }

  /** Indexes `h` under `key`. */
  set(key: string, h: Holding): void {
    this.#copies.set(key, h);
  }

  /** Unindexes `key`. */
  delete(key: string): void {
    this.#copies.delete(key);
  }

  /** Every key and its copies. */
  entries(): IterableIterator<[string, Holding]> {
    return this.#copies.entries();
  }

  /** Indexes a new key, held on no tier yet. */
  create(key: string, byteLength: number, durable: boolean): Holding {
    const h: Holding = {
      key,
      tiers: new Set(),
      byteLength,
      lastUse: 0,
      durable,
      reshape: "source",
      recorded: "",
      busy: 0,
      moving: undefined,
      generation: 0,
    };
    this.#copies.set(key, h);
    return h;
  }

  /**
   * Marks a copy used now: it moves to the most recent end of each of its
   * tiers' LRU lists. A demoted copy joins its new tier at that end too,
   * so each tier demotes in the order copies were last used or arrived.
   */
  touch(h: Holding): void {
    h.lastUse = ++this.#clock;
    // Used again with nothing listed since: it is at the recent end already.
    if (this.#last === h) return;
    this.#last = h;
    for (const name of h.tiers) {
      const list = this.#lru.get(name)!;
      list.delete(h.key);
      list.set(h.key, h);
    }
  }

  /** Lists tier `name` as holding `h`'s key, keeping the shared-bytes counts. */
  attach(h: Holding, name: string): void {
    if (h.tiers.has(name)) return;
    if (h.tiers.size === 1) { for (const other of h.tiers) this.#bump(other, h.byteLength); }
    if (h.tiers.size >= 1) this.#bump(name, h.byteLength);
    h.tiers.add(name);
    this.#lru.get(name)!.set(h.key, h);
    this.#last = undefined;
  }

  /** Unlists tier `name` for `h`'s key, keeping the shared-bytes counts. */
  detach(h: Holding, name: string): void {
    if (!h.tiers.delete(name)) return;
    this.#lru.get(name)!.delete(h.key);
    this.#last = undefined;
    if (h.tiers.size >= 1) this.#bump(name, -h.byteLength);
    if (h.tiers.size === 1) { for (const other of h.tiers) this.#bump(other, -h.byteLength); }
  }

  /** Bytes of tier `name`'s copies that another tier also holds. */
  sharedOn(name: string): number {
    return this.#shared.get(name) ?? 0;
  }

  /** The copies on tier `name`, least recently used first. */
  leastRecentlyUsed(name: string): Iterable<Holding> {
    return this.#lru.get(name)?.values() ?? [];
  }

  /** The most durable of `tiers`: backing, then other persistent tiers, then the fastest. */
  primary(tiers: Iterable<string>): string {
    let best: { name: string; score: number } | undefined;
    for (const name of tiers) {
      const t = this.byName.get(name);
      if (t === undefined) continue;
      const score = (t.spec.kind === "backing" ? 2000 : t.spec.persistent ? 1000 : 0) - t.rank;
      if (best === undefined || score > best.score) best = { name, score };
    }
    return best?.name ?? "";
  }

  #bump(name: string, bytes: number): void {
    this.#shared.set(name, (this.#shared.get(name) ?? 0) + bytes);
  }
}
