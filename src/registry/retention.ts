/**
 * Which versions a commit retires. Pure: version states in, decision out.
 *
 * A dataset keeps its newest `keep` committed versions. Committing a version
 * retires the committed versions that fall out of that window, and, once the
 * window is full, the open versions older than its oldest version (they could
 * never be attached: committing them would retire them at once).
 *
 * @module
 */

import type { VersionState } from "./records.ts";

/** What committing a version does to the others. */
export type RetentionPlan =
  | {
    /** The commit may go ahead. */
    readonly ok: true;
    /** Versions to retire in the same atomic operation, oldest first. */
    readonly retire: readonly number[];
  }
  | {
    /** The version is older than every version kept: committing it is refused. */
    readonly ok: false;
    /** The versions kept, newest first. */
    readonly kept: readonly number[];
  };

/**
 * Plans the retirements of committing version `committing`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planRetention } from "./retention.ts";
 * const versions = [
 *   { version: 1, state: "committed" as const },
 *   { version: 2, state: "committed" as const },
 *   { version: 3, state: "open" as const },
 * ];
 * assert.deepEqual(planRetention(versions, 3, 2), { ok: true, retire: [1] });
 * assert.deepEqual(planRetention(versions, 3, 3), { ok: true, retire: [] });
 * ```
 */
export function planRetention(
  versions: Iterable<{ readonly version: number; readonly state: VersionState }>,
  committing: number,
  keep: number,
): RetentionPlan {
  const committed: number[] = [committing];
  const open: number[] = [];
  for (const v of versions) {
    if (v.version === committing) continue;
    if (v.state === "committed") committed.push(v.version);
    else if (v.state === "open") open.push(v.version);
  }
  committed.sort((a, b) => b - a);
  const kept = committed.slice(0, keep);
  if (!kept.includes(committing)) return { ok: false, kept };
  const retire = committed.slice(keep);
  if (kept.length === keep) {
    const oldest = kept[kept.length - 1]!;
    for (const n of open) if (n < oldest) retire.push(n);
  }
  return { ok: true, retire: retire.sort((a, b) => a - b) };
}

/**
 * The oldest version a publish may still open: versions below it are out of
 * the retention window (0 when the window is not full).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { oldestOpenable } from "./retention.ts";
 * assert.equal(oldestOpenable([4, 7, 5], 2), 6);
 * assert.equal(oldestOpenable([4], 2), 0);
 * ```
 */
export function oldestOpenable(committed: readonly number[], keep: number): number {
  if (committed.length < keep) return 0;
  const sorted = [...committed].sort((a, b) => b - a);
  return sorted[keep - 1]! + 1;
}
