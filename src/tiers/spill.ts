/**
 * The spill rule: when a tier must take a copy it has no room for, its
 * least-recently-used copies are demoted to the next tier that can take
 * them, cascading down the hierarchy, or dropped when another tier of the
 * node already holds them.
 *
 * @module
 */

/** A tier of the node, in hierarchy order (fastest first). */
export interface SpillTier {
  /** Name. */
  readonly name: string;
  /** Capacity in bytes. */
  readonly capacity: number;
  /** Bytes held or reserved. */
  readonly used: number;
  /** Whether copies survive a restart. */
  readonly persistent: boolean;
}

/** A copy one tier holds. */
export interface SpillCopy {
  /** Its key. */
  readonly key: string;
  /** The tier holding it. */
  readonly tier: string;
  /** Size in bytes. */
  readonly byteLength: number;
  /** When it was last written or read (a logical clock: larger is more recent). */
  readonly lastUse: number;
  /** Whether its dataset is durable: it may leave a persistent tier only for a persistent tier. */
  readonly durable: boolean;
  /** The other tiers of the node holding the same key. */
  readonly alsoOn: readonly string[];
}

/** What the rule is asked: make `bytes` free on `tier`. */
export interface SpillRequest {
  /** The node's tiers, fastest first. */
  readonly tiers: readonly SpillTier[];
  /**
   * The copies the node holds: a list (ordered here by `lastUse`), or, for
   * speed, a function giving the copies on one tier least recently used
   * first, which the rule reads only as far as its plan needs.
   */
  readonly copies: readonly SpillCopy[] | ((tier: string) => Iterable<SpillCopy>);
  /** The tier that must take a copy. */
  readonly tier: string;
  /** Bytes that must be free on it. */
  readonly bytes: number;
  /** Keys that must not move (the copy being replaced, for instance). */
  readonly keep?: ReadonlySet<string>;
}

/** One step: copy `key` from `from` to `to`, then delete it from `from` (`to` null: only delete). */
export interface SpillMove {
  /** The copy's key. */
  readonly key: string;
  /** Tier it leaves. */
  readonly from: string;
  /** Tier it goes to, or null when another tier already holds it. */
  readonly to: string | null;
  /** Its size. */
  readonly byteLength: number;
}

/**
 * Plans the moves that free `bytes` on `tier`, least recently used copies
 * first, or returns undefined when no sequence of moves can. Executed in
 * order, the moves never take a tier past its capacity: the moves that make
 * room on a lower tier come before the move into it.
 *
 * A copy leaves its tier only to another tier that will hold it, or when
 * another tier holds it already; a durable copy on a persistent tier leaves
 * only for a persistent tier (or when another persistent tier holds it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planSpill } from "./spill.ts";
 * const moves = planSpill({
 *   tiers: [
 *     { name: "memory", capacity: 100, used: 100, persistent: false },
 *     { name: "file", capacity: 1000, used: 0, persistent: true },
 *   ],
 *   copies: [
 *     { key: "old", tier: "memory", byteLength: 60, lastUse: 1, durable: false, alsoOn: [] },
 *     { key: "new", tier: "memory", byteLength: 40, lastUse: 2, durable: false, alsoOn: [] },
 *   ],
 *   tier: "memory",
 *   bytes: 50,
 * });
 * assert.deepEqual(moves, [{ key: "old", from: "memory", to: "file", byteLength: 60 }]);
 * ```
 */
export function planSpill(request: SpillRequest): SpillMove[] | undefined {
  const tiers = request.tiers;
  const at = new Map(tiers.map((t, i) => [t.name, i]));
  const target = at.get(request.tier);
  if (target === undefined) return undefined;
  const used = tiers.map((t) => t.used);
  const lanes = tiers.map((t) => new Lane(sourceOf(request.copies, t.name), request.keep));
  const moves: { move: SpillMove; c: Candidate; i: number; j: number }[] = [];

  const free = (i: number) => tiers[i]!.capacity - used[i]!;
  const take = (c: Candidate, i: number) => {
    c.gone = true;
    used[i]! -= c.copy.byteLength;
  };
  const undo = (mark: number) => {
    while (moves.length > mark) {
      const m = moves.pop()!;
      m.c.gone = false;
      lanes[m.i]!.rewind(m.c.index);
      used[m.i]! += m.move.byteLength;
      if (m.j >= 0) used[m.j]! -= m.move.byteLength;
    }
  };
  const persistentElsewhere = (c: SpillCopy) =>
    c.alsoOn.some((name) => tiers[at.get(name) ?? -1]?.persistent === true);

  /** Frees `need` bytes on tier `i`; on failure leaves the state as it found it. */
  function makeRoom(i: number, need: number): boolean {
    if (free(i) >= need) return true;
    if (tiers[i]!.capacity < need) return false;
    const mark = moves.length;
    const tier = tiers[i]!;
    const lane = lanes[i]!;
    for (let k = lane.head; free(i) < need; k++) {
      const cand = lane.at(k);
      if (cand === undefined) break;
      if (cand.gone) continue;
      const c = cand.copy;
      const pinned = c.durable && tier.persistent && !persistentElsewhere(c);
      if (c.alsoOn.length > 0 && !pinned) {
        take(cand, i);
        const move = { key: c.key, from: tier.name, to: null, byteLength: c.byteLength };
        moves.push({ move, c: cand, i, j: -1 });
        continue;
      }
      for (let j = i + 1; j < tiers.length; j++) {
        const next = tiers[j]!;
        if (next.capacity < c.byteLength || (pinned && !next.persistent)) continue;
        if (c.alsoOn.includes(next.name)) continue;
        if (!makeRoom(j, c.byteLength)) continue;
        take(cand, i);
        used[j]! += c.byteLength;
        const move = { key: c.key, from: tier.name, to: next.name, byteLength: c.byteLength };
        moves.push({ move, c: cand, i, j });
        break;
      }
    }
    if (free(i) >= need) return true;
    undo(mark);
    return false;
  }

  return makeRoom(target, request.bytes) ? moves.map((m) => m.move) : undefined;
}

interface Candidate {
  readonly copy: SpillCopy;
  /** Its place in its tier's order. */
  readonly index: number;
  /** Taken by the plan. */
  gone: boolean;
}

/** One tier's copies, least recently used first, read from the source as the plan needs them. */
class Lane {
  readonly #items: Candidate[] = [];
  readonly #source: Iterator<SpillCopy>;
  readonly #keep: ReadonlySet<string> | undefined;
  #done = false;
  /** Every candidate before this index is taken. */
  head = 0;

  constructor(source: Iterable<SpillCopy>, keep: ReadonlySet<string> | undefined) {
    this.#source = source[Symbol.iterator]();
    this.#keep = keep;
  }

  at(k: number): Candidate | undefined {
    while (k >= this.#items.length && !this.#done) {
      const next = this.#source.next();
      if (next.done === true) this.#done = true;
      else if (!(this.#keep?.has(next.value.key) ?? false)) {
        this.#items.push({ copy: next.value, index: this.#items.length, gone: false });
      }
    }
    const c = this.#items[k];
    // Advance past the taken prefix, so later passes start at the first copy still there.
    while (this.#items[this.head]?.gone === true) this.head++;
    return c;
  }

  rewind(index: number): void {
    this.head = Math.min(this.head, index);
  }
}

function sourceOf(
  copies: SpillRequest["copies"],
  tier: string,
): Iterable<SpillCopy> {
  if (typeof copies === "function") return copies(tier);
  return copies.filter((c) => c.tier === tier).sort((a, b) => a.lastUse - b.lastUse);
}
