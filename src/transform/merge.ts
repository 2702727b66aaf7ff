/**
 * Plan normalisation: simplify each op's iteration shape, then join ops that
 * copy neighbouring bytes into wider raw copies.
 *
 * Rules, applied until nothing changes:
 * 1. dimensions of count 1 are dropped;
 * 2. dimensions are ordered by target stride, largest first, so the innermost
 *    loop walks the target sequentially;
 * 3. adjacent dimensions collapse into one when they are contiguous on both
 *    sides (outer stride = inner stride * inner count);
 * 4. two ops without conversion from the same source, with the same outer
 *    shape, where the second starts right where the first ends on both sides,
 *    become one raw byte copy (`x`, `y`, `z` of a struct copied to a struct
 *    with the same field order);
 * 5. a copy without conversion that is contiguous on both sides becomes a
 *    single memcpy op (`uint8`, stride 1).
 *
 * @module
 */

import type { CopyOp } from "./op.ts";
import { isBitCopy } from "./convert.ts";
import { scalarSize } from "./scalar.ts";

/**
 * An op with rules 1-3 applied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normaliseOp } from "./merge.ts";
 * // A 4x8 row-major block of float32 copied whole: one run of 32 scalars.
 * const op = normaliseOp({
 *   source: 0, srcOffset: 0, dstOffset: 0, counts: [4, 8, 1], srcStrides: [32, 4, 0],
 *   dstStrides: [32, 4, 0], from: "float32", to: "float32",
 * });
 * assert.deepEqual(op.counts, [32]);
 * assert.deepEqual(op.srcStrides, [4]);
 * ```
 */
export function normaliseOp(op: CopyOp): CopyOp {
  const dims = op.counts
    .map((count, k) => ({ count, src: op.srcStrides[k]!, dst: op.dstStrides[k]! }))
    .filter((d) => d.count !== 1)
    .sort((a, b) => Math.abs(b.dst) - Math.abs(a.dst) || Math.abs(b.src) - Math.abs(a.src));
  const out: typeof dims = [];
  for (const d of dims) {
    const prev = out[out.length - 1];
    if (prev !== undefined && prev.src === d.src * d.count && prev.dst === d.dst * d.count) {
      out[out.length - 1] = { count: prev.count * d.count, src: d.src, dst: d.dst };
    } else {
      out.push(d);
    }
  }
  return {
    ...op,
    counts: out.map((d) => d.count),
    srcStrides: out.map((d) => d.src),
    dstStrides: out.map((d) => d.dst),
  };
}

/**
 * The same copy as raw bytes (`uint8` with an innermost byte dimension), for
 * an op whose conversion keeps every bit (`isBitCopy`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toByteCopy } from "./merge.ts";
 * const op = toByteCopy({
 *   source: 0, srcOffset: 0, dstOffset: 0, counts: [10], srcStrides: [8], dstStrides: [8],
 *   from: "float64", to: "float64",
 * });
 * assert.deepEqual([op.counts, op.from], [[80], "uint8"]);
 * ```
 */
export function toByteCopy(op: CopyOp): CopyOp {
  const n = normaliseOp(op);
  // The byte dimension is kept even at count 1, so that merging can widen it.
  let run = scalarSize(op.from);
  const counts = [...n.counts];
  const srcStrides = [...n.srcStrides];
  const dstStrides = [...n.dstStrides];
  for (;;) {
    const k = counts.length - 1;
    if (k < 0 || srcStrides[k] !== run || dstStrides[k] !== run) break;
    run *= counts[k]!;
    counts.pop();
    srcStrides.pop();
    dstStrides.pop();
  }
  return {
    ...n,
    counts: [...counts, run],
    srcStrides: [...srcStrides, 1],
    dstStrides: [...dstStrides, 1],
    from: "uint8",
    to: "uint8",
  };
}

/**
 * Normalises and merges ops (rules 1-5 of this module), sorted by target
 * offset. The result copies exactly the same bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeOps } from "./merge.ts";
 * // Fields x and y of 100 structs {x, y float64}, copied to the same layout.
 * const field = (offset: number) => ({
 *   source: 0, srcOffset: offset, dstOffset: offset, counts: [100], srcStrides: [16],
 *   dstStrides: [16], from: "float64" as const, to: "float64" as const,
 * });
 * const ops = mergeOps([field(0), field(8)]);
 * assert.equal(ops.length, 1);
 * assert.deepEqual(ops[0]!.counts, [1600]);
 * ```
 */
export function mergeOps(ops: readonly CopyOp[]): CopyOp[] {
  let list = ops.map(normaliseOp);
  for (;;) {
    const next = mergePass(list);
    if (next.length === list.length) break;
    list = next;
  }
  return list.map(memcpyForm).sort((a, b) => a.dstOffset - b.dstOffset || a.source - b.source);
}

function memcpyForm(op: CopyOp): CopyOp {
  if (!isBitCopy(op.from, op.to)) return op;
  const bytes = toByteCopy(op);
  return bytes.counts.length === 1 && bytes.srcStrides[0] === 1 && bytes.dstStrides[0] === 1
    ? bytes
    : op;
}

interface Run {
  op: CopyOp;
  bytes: CopyOp | undefined;
  widened: boolean;
}

/** One sweep of rule 4: each raw run absorbs the run that starts where it ends. */
function mergePass(ops: readonly CopyOp[]): CopyOp[] {
  const runs: Run[] = ops.map((op) => ({
    op,
    bytes: isBitCopy(op.from, op.to) ? toByteCopy(op) : undefined,
    widened: false,
  }));
  const candidates = runs
    .filter((r) => r.bytes !== undefined)
    .sort((a, b) => a.bytes!.dstOffset - b.bytes!.dstOffset);
  const ending = new Map<string, Run>();
  const absorbed = new Set<Run>();
  for (const run of candidates) {
    const b = run.bytes!;
    const width = lastCount(b);
    const before = ending.get(runKey(b, b.srcOffset, b.dstOffset));
    if (before === undefined) {
      ending.set(runKey(b, b.srcOffset + width, b.dstOffset + width), run);
      continue;
    }
    // Widen without normalising, so the run keeps the outer shape its key names.
    const p = before.bytes!;
    const counts = [...p.counts];
    counts[counts.length - 1] = lastCount(p) + width;
    const joined = { ...p, counts };
    ending.delete(runKey(p, p.srcOffset + lastCount(p), p.dstOffset + lastCount(p)));
    before.bytes = joined;
    before.widened = true;
    ending.set(runKey(p, p.srcOffset + lastCount(joined), p.dstOffset + lastCount(joined)), before);
    absorbed.add(run);
  }
  for (const run of runs) if (run.widened) run.op = toByteCopy(run.bytes!);
  return runs.filter((r) => !absorbed.has(r)).map((r) => r.op);
}

function lastCount(op: CopyOp): number {
  return op.counts[op.counts.length - 1] ?? 1;
}

/** Identity of a raw run's outer shape and a byte position on both sides. */
function runKey(op: CopyOp, src: number, dst: number): string {
  const outer = op.counts.length - 1;
  return [
    op.source,
    op.counts.slice(0, outer).join(","),
    op.srcStrides.slice(0, outer).join(","),
    op.dstStrides.slice(0, outer).join(","),
    op.srcStrides[outer] ?? 1,
    op.dstStrides[outer] ?? 1,
    src,
    dst,
  ].join("|");
}
