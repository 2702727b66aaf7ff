/**
 * Making room on a tier: the spill rule's moves carried out (least
 * recently used copies demoted down the tiers), and each move of a copy's
 * primary tier announced to the listeners (the runtime tells the registry).
 *
 * @module
 */

import { SizeMismatchError, TierFullError } from "../errors.ts";
import type { Holding, Holdings } from "./_holdings.ts";
import type { Mutex } from "./_locks.ts";
import { planSpill, type SpillCopy, type SpillMove } from "./spill.ts";
import type { DeclaredTier } from "./tier_config.ts";
import type { StagedFile, Tier } from "./tier.ts";
import { log, metrics } from "../observe/mod.ts";

/**
 * The spill rule could not make room on a tier.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoRoom } from "./_spilling.ts";
 * assert.equal(new NoRoom("fast").message, "No room on tier 'fast'");
 * ```
 */
export class NoRoom extends Error {
  /** Names the tier. */
  constructor(readonly tier: string) {
    super(`No room on tier '${tier}'`);
  }
}

/** What spilling needs of a tier set. */
export interface SpillingOptions {
  /** The tiers, fastest first. */
  readonly tiers: readonly DeclaredTier[];
  /** The index of the copies they hold. */
  readonly holdings: Holdings;
  /** Spills run one at a time under this lock. */
  readonly lock: Mutex;
  /** Where a move that could not be recorded is reported. */
  readonly log: (message: string) => void;
}

/** What a put stores: bytes, or a file moved (renamed) or copied into the tier. */
export type PutSource = Uint8Array | { readonly file: StagedFile; readonly move: boolean };

/**
 * Bytes a put stores.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sizeOfSource } from "./_spilling.ts";
 * assert.equal(sizeOfSource(new Uint8Array(3)), 3);
 * assert.equal(sizeOfSource({ file: { path: "/x", byteLength: 8 }, move: false }), 8);
 * ```
 */
export function sizeOfSource(source: PutSource): number {
  return source instanceof Uint8Array ? source.byteLength : source.file.byteLength;
}

/**
 * Puts `source` on `tier`; a tier that cannot store a file is given its
 * bytes, checked against the size the file should have.
 */
async function putSource(tier: Tier, key: string, source: PutSource): Promise<void> {
  if (source instanceof Uint8Array) return await tier.put(key, source);
  if (tier.putFile !== undefined) return await tier.putFile(key, source.file, source);
  const bytes = await Deno.readFile(source.file.path);
  if (bytes.byteLength !== source.file.byteLength) {
    throw new SizeMismatchError(key, source.file.byteLength, bytes.byteLength, {
      message:
        `Cannot store '${key}' from '${source.file.path}': expected ${source.file.byteLength} bytes, the file holds ${bytes.byteLength}`,
    });
  }
  await tier.put(key, bytes);
}

/** Attempts at a put that other writers keep beating to the freed bytes. */
const PUT_ATTEMPTS = 4;

/**
 * Puts that spill to make room, and the announcements of copies' moves.
 *
 * Spill invariant: a demoted copy is written to its new tier, and the
 * index lists it there, before it is deleted from the old one; a copy is
 * dropped only while another tier still holds it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Holdings } from "./_holdings.ts";
 * import { Mutex } from "./_locks.ts";
 * import { Spilling } from "./_spilling.ts";
 * import { KIND_DEFAULTS, MemoryTier } from "./mod.ts";
 * const spec = (name: string, capacity: number) => ({ name, kind: "memory", capacity, ...KIND_DEFAULTS.memory } as const);
 * const tiers = [
 *   { tier: new MemoryTier("fast", 100), spec: spec("fast", 100) },
 *   { tier: new MemoryTier("slow", 1000), spec: spec("slow", 1000) },
 * ];
 * const holdings = new Holdings(tiers);
 * const spilling = new Spilling({ tiers, holdings, lock: new Mutex(), log: console.warn });
 * for (const key of ["a", "b"]) {
 *   const h = holdings.create(key, 60, false);
 *   await spilling.putWithRoom("fast", key, new Uint8Array(60));
 *   holdings.attach(h, "fast");
 * }
 * assert.deepEqual([...holdings.get("a")!.tiers], ["slow"]); // spilled, not lost
 * ```
 */
export class Spilling {
  readonly #o: SpillingOptions;
  readonly #moveListeners = new Set<(key: string, tier: string) => unknown>();

  /** Spilling over `options.tiers`. */
  constructor(options: SpillingOptions) {
    this.#o = options;
  }

  /** Subscribes to changes of a copy's primary tier; returns the unsubscribe function. */
  onMove(listener: (key: string, tier: string) => unknown): () => void {
    this.#moveListeners.add(listener);
    return () => this.#moveListeners.delete(listener);
  }

  /** Puts a copy on tier `name`, spilling there first when it has no room; `NoRoom` when it cannot. */
  async putWithRoom(name: string, key: string, bytes: PutSource): Promise<void> {
    const { tier, spec } = this.#o.holdings.byName.get(name)!;
    const size = sizeOfSource(bytes);
    if (spec.capacity < size) throw new NoRoom(name);
    for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
      if (spec.capacity - tier.info().used >= size) {
        try {
          return await putSource(tier, key, bytes);
        } catch (e) {
          if (!(e instanceof TierFullError)) throw e;
        }
      }
      if (await this.#o.lock.run(() => this.#spillAndPut(name, key, bytes))) return;
    }
    throw new NoRoom(name);
  }

  /**
   * Under the lock: demotes copies until tier `name` has room, then puts
   * the copy; false when another writer took the room first.
   */
  async #spillAndPut(name: string, key: string, bytes: PutSource): Promise<boolean> {
    const { tier, spec } = this.#o.holdings.byName.get(name)!;
    const size = sizeOfSource(bytes);
    if (spec.capacity - tier.info().used < size) {
      const moves = planSpill({
        tiers: this.#o.tiers.map(({ tier, spec }) => ({
          name: spec.name,
          capacity: spec.capacity,
          used: tier.info().used,
          persistent: spec.persistent,
        })),
        copies: (tier) => this.#candidates(tier),
        tier: name,
        bytes: size,
        keep: new Set([key]),
      });
      if (moves === undefined) throw new NoRoom(name);
      await this.#demote(moves);
    }
    try {
      await putSource(tier, key, bytes);
      return true;
    } catch (e) {
      // Another writer took the room between the demotions and this put: try again.
      if (e instanceof TierFullError) return false;
      throw e;
    }
  }

  /** Carries out spill moves in order, keeping the spill invariant. */
  async #demote(moves: readonly SpillMove[]): Promise<void> {
    const announced: Promise<void>[] = [];
    try {
      for (const m of moves) {
        const h = this.#o.holdings.get(m.key);
        if (h === undefined || !h.tiers.has(m.from) || h.busy > 0) continue;
        if (m.to === null) {
          if (h.tiers.size < 2) continue;
          this.#o.holdings.detach(h, m.from);
          await this.#tier(m.from).delete(m.key);
          continue;
        }
        const moved = await this.#move(h, m, announced);
        if (!moved) return;
      }
    } finally {
      await Promise.all(announced);
    }
  }

  /**
   * Moves one copy down: written to its new tier and listed there, then
   * deleted from the old one. False when a writer outside the lock took
   * the room this plan counted on: the caller plans again from what the
   * tiers hold now.
   */
  async #move(h: Holding, m: SpillMove, announced: Promise<void>[]): Promise<boolean> {
    const from = this.#tier(m.from);
    const to = this.#tier(m.to!);
    let done!: () => void;
    h.moving = new Promise<void>((resolve) => done = resolve);
    try {
      const bytes = await from.get(m.key);
      if (bytes === undefined) return true;
      try {
        await to.put(m.key, bytes);
      } catch (e) {
        if (e instanceof TierFullError) return false;
        throw e;
      }
      this.#o.holdings.attach(h, m.to!);
      // Announced once the old tier is off the copy's list: with both listed,
      // the faster of two memory tiers would still rank as its primary.
      this.#o.holdings.detach(h, m.from);
      announced.push(this.announce(m.key, h));
      await from.delete(m.key);
      metrics.spills.inc({ from: m.from, to: m.to! });
      metrics.spilledBytes.inc(bytes.byteLength);
      log.info("copy spilled", { copy: m.key, from: m.from, to: m.to!, bytes: bytes.byteLength });
      return true;
    } finally {
      h.moving = undefined;
      done();
    }
  }

  /** Tells the listeners when a copy's primary tier changed. */
  async announce(key: string, h: Holding): Promise<void> {
    const primary = this.#o.holdings.primary(h.tiers);
    if (primary === h.recorded) return;
    h.recorded = primary;
    for (const listener of this.#moveListeners) {
      try {
        await listener(key, primary);
      } catch (e) {
        this.#o.log(
          `Cannot record that '${key}' moved to tier '${primary}': ${
            e instanceof Error ? e.message : String(e)
          }`,
        );
      }
    }
  }

  /** The copies on `tier` the spill rule may move, least recently used first. */
  *#candidates(tier: string): Generator<SpillCopy> {
    for (const h of this.#o.holdings.leastRecentlyUsed(tier)) {
      if (h.busy > 0) continue;
      yield {
        key: h.key,
        tier,
        byteLength: h.byteLength,
        lastUse: h.lastUse,
        durable: h.durable,
        alsoOn: h.tiers.size === 1 ? [] : [...h.tiers].filter((t) => t !== tier),
      };
    }
  }

  #tier(name: string) {
    return this.#o.holdings.byName.get(name)!.tier;
  }
}
