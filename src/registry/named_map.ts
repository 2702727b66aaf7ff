/**
 * A map by name that also answers its keys in order, sorted once per change
 * rather than once per question: a name server lists its datasets a page at
 * a time, and hundreds of thousands of names take tens of milliseconds to
 * sort.
 *
 * @module
 */

/**
 * A `Map` whose keys can be read in ascending order (`sortedKeys`) and a
 * page at a time after a name (`page`). The order is rebuilt on the first
 * question after a key is added or removed.
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
  #sorted: string[] | undefined;

  override set(key: string, value: V): this {
    if (this.#sorted !== undefined && !this.has(key)) this.#sorted = undefined;
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    const had = super.delete(key);
    if (had) this.#sorted = undefined;
    return had;
  }

  override clear(): void {
    super.clear();
    this.#sorted = undefined;
  }

  /** Every key, ascending (code unit order, as `<` compares strings). */
  sortedKeys(): readonly string[] {
    this.#sorted ??= [...this.keys()].sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
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
