/**
 * A multi-level grid of integer ranges, to find the items whose range meets
 * a query range without scanning them all. Pure.
 *
 * Level L cuts the integers into buckets of 4^L. An item whose range
 * `[lo, hi]` has length n sits at the lowest level whose buckets hold n, in
 * the one or two buckets its range touches. A query visits, at each level in
 * use, the buckets its range touches (or every item of the level, when there
 * are fewer of them than buckets), and keeps the items whose range meets its
 * own. So a point query costs about two lookups per level whatever the
 * number of items and however they cluster.
 *
 * @module
 */

interface Level<T> {
  readonly size: number;
  /** Every item of the level, with its range. */
  readonly all: Map<T, readonly [number, number]>;
  readonly buckets: Map<number, Set<T>>;
}

/**
 * Items indexed by an inclusive integer range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IntervalGrid } from "./interval_grid.ts";
 * const grid = new IntervalGrid<string>();
 * grid.add(0, 9, "a");
 * grid.add(10, 1_000_000, "b");
 * grid.add(500, 500, "c");
 * assert.deepEqual([...grid.query(8, 12)].sort(), ["a", "b"]);
 * assert.deepEqual([...grid.query(500, 500)].sort(), ["b", "c"]);
 * ```
 */
export class IntervalGrid<T> {
  readonly #levels = new Map<number, Level<T>>();
  #size = 0;

  /** Number of items. */
  get size(): number {
    return this.#size;
  }

  /** Adds an item over `[lo, hi]` (inclusive, lo <= hi); an item is held once. */
  add(lo: number, hi: number, item: T): void {
    const level = this.#level(levelOf(hi - lo + 1), true)!;
    if (level.all.has(item)) return;
    level.all.set(item, [lo, hi]);
    // The one or two buckets the range touches (its length is at most a bucket's).
    const first = Math.floor(lo / level.size);
    const last = Math.floor(hi / level.size);
    for (let b = first; b <= last; b++) {
      const set = level.buckets.get(b);
      if (set === undefined) level.buckets.set(b, new Set([item]));
      else set.add(item);
    }
    this.#size++;
  }

  /** Removes an item added over `[lo, hi]`; returns whether it was there. */
  delete(lo: number, hi: number, item: T): boolean {
    const l = levelOf(hi - lo + 1);
    const level = this.#level(l, false);
    if (level === undefined || !level.all.delete(item)) return false;
    const first = Math.floor(lo / level.size);
    const last = Math.floor(hi / level.size);
    for (let b = first; b <= last; b++) {
      const set = level.buckets.get(b);
      set?.delete(item);
      if (set?.size === 0) level.buckets.delete(b);
    }
    // An emptied level stays (there are at most about 27 for safe
    // integers): a box set splitting its one box by each subtraction would
    // otherwise make the level's maps anew every time.
    this.#size--;
    return true;
  }

  /** Items whose range meets `[lo, hi]`, each once. */
  query(lo: number, hi: number): Set<T> {
    const out = new Set<T>();
    for (const level of this.#levels.values()) {
      const first = Math.floor(lo / level.size);
      const last = Math.floor(hi / level.size);
      if (last - first + 1 >= level.all.size) {
        for (const [item, [a, b]] of level.all) if (a <= hi && b >= lo) out.add(item);
        continue;
      }
      for (let k = first; k <= last; k++) {
        const set = level.buckets.get(k);
        if (set === undefined) continue;
        for (const item of set) {
          const [a, b] = level.all.get(item)!;
          if (a <= hi && b >= lo) out.add(item);
        }
      }
    }
    return out;
  }

  /** Every item. */
  values(): T[] {
    const out: T[] = [];
    for (const level of this.#levels.values()) out.push(...level.all.keys());
    return out;
  }

  #level(l: number, create: boolean): Level<T> | undefined {
    let level = this.#levels.get(l);
    if (level === undefined && create) {
      level = { size: 4 ** l, all: new Map(), buckets: new Map() };
      this.#levels.set(l, level);
    }
    return level;
  }
}

/** Lowest level whose buckets (4^level integers) hold `n` integers. */
function levelOf(n: number): number {
  let l = n <= 1 ? 0 : Math.ceil(Math.log2(n) / 2);
  while (4 ** l < n) l++;
  while (l > 0 && 4 ** (l - 1) >= n) l--;
  return l;
}
