/**
 * Index-space geometry for plan compilation: arithmetic progressions, boxes
 * made of one progression per axis, their intersection and subtraction.
 *
 * A slot's region is one progression per variable dimension (`origin + step *
 * i`), so intersecting two slots is intersecting progressions dimension by
 * dimension, and the result is again a strided box. Coverage bookkeeping
 * subtracts each source's box from what is still missing; with unit steps this
 * is ordinary box subtraction, and with steps it stays exact (a progression
 * minus a sub-progression is a few progressions).
 *
 * @module
 */

/** The integers `start, start + step, ..., start + step * (count - 1)`. */
export interface Progression {
  /** First value. */
  readonly start: number;
  /** Distance between consecutive values (>= 1; 1 when count <= 1). */
  readonly step: number;
  /** Number of values (>= 1 in a non-empty progression). */
  readonly count: number;
}

/** A box of indices: one progression per axis, outermost first. */
export type StridedBox = readonly Progression[];

/**
 * Greatest common divisor of two non-negative integers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gcd } from "./region.ts";
 * assert.equal(gcd(12, 18), 6);
 * ```
 */
export function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The progression holding the values common to `a` and `b`, or `undefined`
 * when they share none. Its step is the least common multiple of theirs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intersectProgressions } from "./region.ts";
 * // 0, 2, 4, ..., 18 and 3, 6, 9, ..., 30 share 6, 12, 18.
 * assert.deepEqual(
 *   intersectProgressions({ start: 0, step: 2, count: 10 }, { start: 3, step: 3, count: 10 }),
 *   { start: 6, step: 6, count: 3 },
 * );
 * ```
 */
export function intersectProgressions(a: Progression, b: Progression): Progression | undefined {
  if (a.count <= 0 || b.count <= 0) return undefined;
  const aLast = a.start + a.step * (a.count - 1);
  const bLast = b.start + b.step * (b.count - 1);
  const lo = Math.max(a.start, b.start);
  const hi = Math.min(aLast, bLast);
  if (lo > hi) return undefined;
  const sa = a.count === 1 ? 1 : a.step;
  const sb = b.count === 1 ? 1 : b.step;
  const first = firstCommon(a.start, sa, b.start, sb, lo);
  if (first === undefined || first > hi) return undefined;
  const step = (sa / gcd(sa, sb)) * sb;
  const count = Math.floor((hi - first) / step) + 1;
  return { start: first, step: count === 1 ? 1 : step, count };
}

/** Smallest x >= lo with x = a (mod sa) and x = b (mod sb), if any. */
function firstCommon(a: number, sa: number, b: number, sb: number, lo: number): number | undefined {
  const g = gcd(sa, sb);
  if ((b - a) % g !== 0) return undefined;
  // Solve a + sa * k = b (mod sb): k = ((b - a) / g) * inverse(sa / g) mod (sb / g).
  const m = sb / g;
  const k = m === 1 ? 0 : mulMod(mod((b - a) / g, m), inverse(mod(sa / g, m), m), m);
  const step = (sa / g) * sb;
  const x = a + sa * k;
  return x >= lo ? x - Math.floor((x - lo) / step) * step : x + Math.ceil((lo - x) / step) * step;
}

function mod(a: number, m: number): number {
  const r = a % m;
  return r < 0 ? r + m : r;
}

function mulMod(a: number, b: number, m: number): number {
  return Number((BigInt(a) * BigInt(b)) % BigInt(m));
}

function inverse(a: number, m: number): number {
  let [r0, r1, t0, t1] = [m, a, 0, 1];
  while (r1 !== 0) {
    const q = Math.floor(r0 / r1);
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0, m);
}

/**
 * The box common to `a` and `b` (same number of axes), or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intersectBoxes } from "./region.ts";
 * const a = [{ start: 0, step: 1, count: 4 }, { start: 0, step: 1, count: 4 }];
 * const b = [{ start: 2, step: 1, count: 4 }, { start: 1, step: 1, count: 2 }];
 * assert.deepEqual(intersectBoxes(a, b), [
 *   { start: 2, step: 1, count: 2 },
 *   { start: 1, step: 1, count: 2 },
 * ]);
 * ```
 */
export function intersectBoxes(a: StridedBox, b: StridedBox): StridedBox | undefined {
  const out: Progression[] = [];
  for (let k = 0; k < a.length; k++) {
    const p = intersectProgressions(a[k]!, b[k]!);
    if (p === undefined) return undefined;
    out.push(p);
  }
  return out;
}

/**
 * The values of `a` that are not in `b`, where `b` is a sub-progression of `a`
 * (as `intersectProgressions(a, x)` returns): a prefix, a suffix, and, when `b`
 * skips values of `a`, one progression per skipped residue.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { subtractProgression } from "./region.ts";
 * assert.deepEqual(
 *   subtractProgression({ start: 0, step: 1, count: 10 }, { start: 4, step: 1, count: 3 }),
 *   [{ start: 0, step: 1, count: 4 }, { start: 7, step: 1, count: 3 }],
 * );
 * ```
 */
export function subtractProgression(a: Progression, b: Progression): Progression[] {
  const out: Progression[] = [];
  const step = a.count === 1 ? 1 : a.step;
  const j0 = (b.start - a.start) / step;
  if (j0 > 0) out.push(progression(a.start, step, j0));
  if (b.count > 1) {
    const q = b.step / step;
    for (let u = 1; u < q; u++) out.push(progression(b.start + step * u, b.step, b.count - 1));
  }
  const bLast = b.start + b.step * (b.count - 1);
  const tail = a.count - 1 - (bLast - a.start) / step;
  if (tail > 0) out.push(progression(bLast + step, step, tail));
  return out;
}

function progression(start: number, step: number, count: number): Progression {
  return { start, step: count === 1 ? 1 : step, count };
}

/**
 * The parts of box `a` outside box `b`, where `b` lies inside `a`, as disjoint
 * boxes: for each axis k, `b`'s values on the axes before k, `a`'s values
 * missing from `b` on axis k, and all of `a` on the axes after.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { subtractBox } from "./region.ts";
 * const a = [{ start: 0, step: 1, count: 8 }];
 * assert.deepEqual(subtractBox(a, [{ start: 0, step: 1, count: 4 }]), [
 *   [{ start: 4, step: 1, count: 4 }],
 * ]);
 * ```
 */
export function subtractBox(a: StridedBox, b: StridedBox): StridedBox[] {
  const out: StridedBox[] = [];
  for (let k = 0; k < a.length; k++) {
    for (const piece of subtractProgression(a[k]!, b[k]!)) {
      out.push([...b.slice(0, k), piece, ...a.slice(k + 1)]);
    }
  }
  return out;
}

/** Most boxes `coalesceBoxes` tries to join. */
export const COALESCE_LIMIT = 512;

/**
 * Joins boxes that differ on one axis only and continue each other there, until
 * no two can be joined, so that a missing region is reported as few boxes as
 * its shape allows (lists longer than `COALESCE_LIMIT` are only sorted).
 * Returns the boxes sorted by their first index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { coalesceBoxes } from "./region.ts";
 * const row = (r: number) => [{ start: r, step: 1, count: 1 }, { start: 0, step: 1, count: 8 }];
 * assert.deepEqual(coalesceBoxes([row(2), row(3)]), [
 *   [{ start: 2, step: 1, count: 2 }, { start: 0, step: 1, count: 8 }],
 * ]);
 * ```
 */
export function coalesceBoxes(boxes: readonly StridedBox[]): StridedBox[] {
  let list = [...boxes];
  // Joining is quadratic per pass; past this many boxes they are left as they are.
  let joined = list.length <= COALESCE_LIMIT;
  while (joined) {
    joined = false;
    outer: for (let i = 0; i < list.length; i++) {
      for (let j = 0; j < list.length; j++) {
        if (i === j) continue;
        const both = join(list[i]!, list[j]!);
        if (both !== undefined) {
          list = list.filter((_, n) => n !== i && n !== j);
          list.push(both);
          joined = true;
          break outer;
        }
      }
    }
  }
  return list.sort(compareBoxes);
}

/** `a` followed by `b` along one axis, when they are equal on every other. */
function join(a: StridedBox, b: StridedBox): StridedBox | undefined {
  let axis = -1;
  for (let k = 0; k < a.length; k++) {
    const p = a[k]!;
    const q = b[k]!;
    if (p.start === q.start && p.step === q.step && p.count === q.count) continue;
    if (axis >= 0) return undefined;
    axis = k;
  }
  if (axis < 0) return undefined;
  const p = a[axis]!;
  const q = b[axis]!;
  const step = p.count > 1 ? p.step : q.count > 1 ? q.step : 1;
  if (step < 1 || (p.count > 1 && q.count > 1 && p.step !== q.step)) return undefined;
  if (q.start !== p.start + step * p.count) return undefined;
  const out = [...a];
  out[axis] = progression(p.start, step, p.count + q.count);
  return out;
}

function compareBoxes(a: StridedBox, b: StridedBox): number {
  for (let k = 0; k < a.length; k++) {
    const d = a[k]!.start - b[k]!.start;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Number of indices in a box.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { boxSize } from "./region.ts";
 * assert.equal(boxSize([{ start: 0, step: 2, count: 3 }, { start: 5, step: 1, count: 4 }]), 12);
 * ```
 */
export function boxSize(box: StridedBox): number {
  return box.reduce((n, p) => n * p.count, 1);
}
