/**
 * A map by name that also answers its keys in order. The order is kept as
 * a sorted array and the keys added and removed since it was built: a
 * question after changes merges them in (linear in the keys, with the
 * added ones sorted) instead of sorting every name again. A name server
 * lists its datasets a page at a time while they are being created, and
 * sorting hundreds of thousands of names takes tens of milliseconds.
 *
 * @module
 */

/** Code unit order, as `<` compares strings. */
const byCodeUnits = (a: string, b: string) => a < b ? -1 : a > b ? 1 : 0;

/**
 * A `Map` whose keys can be read in ascending order (`sortedKeys`) and a
 * page at a time after a name (`page`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NamedMap } from "./named_map.ts";
 * const m = new NamedMap<number>();
 * for (const n of ["c", "a", "d", "b"]) m.set(n, n.charCodeAt(0));
 * assert.deepEqual(m.sortedKeys(), ["a", "b", "c", "d"]);
 * assert.deepEqual(m.page("a", 2), ["b", "c"]);
 * m.delete("b");
 * assert.deepEqual(m.page("a", 2), ["c", "d"]);
 * ```
 */
export class NamedMap<V> extends Map<string, V> {
  /** The keys in order as of the last question; undefined before the first. */
  #sorted: string[] | undefined;
  /** Keys added since `#sorted` was built (not in it). */
  readonly #added = new Set<string>();
  /** Keys removed since `#sorted` was built (in it). */
  readonly #removed = new Set<string>();

  override set(key: string, value: V): this {
    if (this.#sorted !== undefined && !this.has(key)) {
      if (!this.#removed.delete(key)) this.#added.add(key);
    }
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    const had = super.delete(key);
    if (had && this.#sorted !== undefined && !this.#added.delete(key)) this.#removed.add(key);
    return had;
  }

  override clear(): void {
    super.clear();
    this.#sorted = undefined;
    this.#added.clear();
    this.#removed.clear();
  }

  /** Every key, ascending (code unit order, as `<` compares strings). */
  sortedKeys(): readonly string[] {
    if (this.#sorted === undefined) {
      this.#sorted = [...this.keys()].sort(byCodeUnits);
    } else if (this.#added.size > 0 || this.#removed.size > 0) {
      this.#sorted = merged(this.#sorted, [...this.#added].sort(byCodeUnits), this.#removed);
    }
    this.#added.clear();
    this.#removed.clear();
    return this.#sorted;
  }

  /** Up to `limit` keys after `after` (from the first when undefined), ascending. */
  page(after: string | undefined, limit: number): string[] {
    const keys = this.sortedKeys();
    let lo = 0;
    if (after !== undefined) {
      let hi = keys.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (keys[mid]! <= after) lo = mid + 1;
        else hi = mid;
      }
    }
    return keys.slice(lo, lo + Math.max(0, limit));
  }
}

/** `sorted` without `removed`, with `added` (sorted, none of them in `sorted`) merged in. */
function merged(
  sorted: readonly string[],
  added: readonly string[],
  removed: Set<string>,
): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < sorted.length || j < added.length) {
    const a = sorted[i];
    const b = added[j];
    if (b === undefined || (a !== undefined && a < b)) {
      if (removed.size === 0 || !removed.has(a!)) out.push(a!);
      i++;
    } else {
      out.push(b);
      j++;
    }
  }
  return out;
}
