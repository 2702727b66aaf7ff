/**
 * Which versions a commit retires. Pure: the committed versions in order
 * in, decision out.
 *
 * A dataset keeps its newest `keep` committed versions. Committing a version
 * retires the committed versions that fall out of that window, and, once the
 * window is full, the open versions older than its oldest version (they could
 * never be attached: committing them would retire them at once).
 *
 * @module
 */

/** What committing a version does to the others. */
export type RetentionPlan =
  | {
    /** The commit may go ahead. */
    readonly ok: true;
    /** Versions to retire in the same atomic operation, oldest first. */
    readonly retire: readonly number[];
    /** How many of them are the oldest committed versions (the rest are open). */
    readonly dropped: number;
  }
  | {
    /** The version is older than every version kept: committing it is refused. */
    readonly ok: false;
    /** The versions kept, newest first. */
    readonly kept: readonly number[];
  };

/**
 * Plans the retirements of committing version `committing`, given the
 * committed versions in ascending order (`committing` not among them) and
 * the open versions older than a version (`openBelow`, asked only once the
 * window is full). It costs no more than the versions it retires plus a
 * binary search, however many versions the dataset keeps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planRetention } from "./retention.ts";
 * assert.deepEqual(planRetention([1, 2], 3, 2), { ok: true, retire: [1], dropped: 1 });
 * assert.deepEqual(planRetention([1, 2], 3, 3), { ok: true, retire: [], dropped: 0 });
 * assert.deepEqual(planRetention([2, 3], 1, 2), { ok: false, kept: [3, 2] });
 * ```
 */
export function planRetention(
  committed: readonly number[],
  committing: number,
  keep: number,
  openBelow: (version: number) => readonly number[] = () => [],
): RetentionPlan {
  // Committed versions older than `committing`.
  let lo = 0;
  for (let hi = committed.length; lo < hi;) {
    const mid = (lo + hi) >>> 1;
    if (committed[mid]! < committing) lo = mid + 1;
    else hi = mid;
  }
  const below = lo;
  if (committed.length - below >= keep) {
    return { ok: false, kept: committed.slice(committed.length - keep).reverse() };
  }
  // All retired committed versions are older than `committing`, which is kept.
  const dropped = Math.max(0, committed.length + 1 - keep);
  const retire = committed.slice(0, dropped);
  if (committed.length + 1 >= keep) {
    const oldest = dropped < below ? committed[dropped]! : committing;
    for (const n of openBelow(oldest)) if (n !== committing) retire.push(n);
    retire.sort((a, b) => a - b);
  }
  return { ok: true, retire, dropped };
}

/**
 * The oldest version a publish may still open, given the committed
 * versions in ascending order: versions below it are out of the retention
 * window (0 when the window is not full).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { oldestOpenable } from "./retention.ts";
 * assert.equal(oldestOpenable([4, 5, 7], 2), 6);
 * assert.equal(oldestOpenable([4], 2), 0);
 * ```
 */
export function oldestOpenable(committed: readonly number[], keep: number): number {
  return committed.length < keep ? 0 : committed[committed.length - keep]! + 1;
}

/**
 * Inserts version `n` into ascending `committed` in place (at the end when
 * it is the newest, as commits mostly are).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { insertVersion } from "./retention.ts";
 * const committed = [1, 4];
 * insertVersion(committed, 5);
 * insertVersion(committed, 2);
 * assert.deepEqual(committed, [1, 2, 4, 5]);
 * ```
 */
export function insertVersion(committed: number[], n: number): void {
  let i = committed.length;
  committed.push(n);
  for (; i > 0 && committed[i - 1]! > n; i--) committed[i] = committed[i - 1]!;
  committed[i] = n;
}

/**
 * Removes version `n` from ascending `versions` in place, if there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { removeVersion } from "./retention.ts";
 * const open = [2, 3, 7];
 * removeVersion(open, 3);
 * removeVersion(open, 5);
 * assert.deepEqual(open, [2, 7]);
 * ```
 */
export function removeVersion(versions: number[], n: number): void {
  let lo = 0;
  for (let hi = versions.length; lo < hi;) {
    const mid = (lo + hi) >>> 1;
    if (versions[mid]! < n) lo = mid + 1;
    else hi = mid;
  }
  if (versions[lo] === n) versions.splice(lo, 1);
}
