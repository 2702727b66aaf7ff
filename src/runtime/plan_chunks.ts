/**
 * A single-source plan cut into pieces that each read only a prefix of the
 * source, so the reshape of a part received over the data plane runs while
 * the rest of it is still on the wire (bench/streaming_bench.ts: the
 * array-of-structs to struct-of-arrays reshape of a 64 MiB step otherwise
 * runs after the last byte has arrived). Pure: no I/O.
 *
 * @module
 */

import { executePlan } from "../transform/execute.ts";
import type { CopyOp, Plan } from "../transform/op.ts";
import { scalarSize } from "../transform/scalar.ts";
import { metrics } from "../observe/mod.ts";

/** A piece of a plan, and how many source bytes must be there before it runs. */
export interface PlanChunk {
  /** The piece: the same source and target sizes, a share of the ops (split by rows). */
  readonly plan: Plan;
  /** It reads source bytes below this offset only. */
  readonly readyAt: number;
}

/**
 * Cuts a single-source plan into pieces by source offset: the piece with
 * `readyAt` B holds every row (outermost iteration) of every op whose source
 * bytes all lie below B and not below the previous piece's bound. Together
 * the pieces write exactly what the plan writes. A plan with several sources
 * is one piece, ready once the first source is whole.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chunkPlan } from "./plan_chunks.ts";
 * // Column x of 1024 structs {x, y, z, w float64} into a packed array.
 * const plan = {
 *   sourceBytes: [32768], targetBytes: 8192,
 *   ops: [{ source: 0, srcOffset: 0, dstOffset: 0, counts: [1024], srcStrides: [32],
 *     dstStrides: [8], from: "float64" as const, to: "float64" as const }],
 * };
 * const chunks = chunkPlan(plan, 16384);
 * assert.deepEqual(chunks.map((c) => c.readyAt), [16384, 32768]);
 * assert.deepEqual(chunks.map((c) => c.plan.ops[0]!.counts), [[512], [512]]);
 * ```
 */
export function chunkPlan(plan: Plan, chunkBytes: number): PlanChunk[] {
  if (!(chunkBytes > 0)) throw new RangeError(`Invalid chunk size ${chunkBytes}: expected > 0`);
  const total = plan.sourceBytes[0] ?? 0;
  if (plan.sourceBytes.length !== 1) return [{ plan, readyAt: total }];
  const pieces = new Map<number, CopyOp[]>();
  const add = (end: number, op: CopyOp) => {
    const j = Math.max(0, Math.ceil(end / chunkBytes) - 1);
    const list = pieces.get(j);
    if (list === undefined) pieces.set(j, [op]);
    else list.push(op);
  };
  for (const op of plan.ops) {
    const size = scalarSize(op.from);
    // Bytes one outermost row reaches past its start.
    let ahead = size;
    for (let k = 1; k < op.counts.length; k++) {
      ahead += Math.max(0, (op.counts[k]! - 1) * op.srcStrides[k]!);
    }
    const rows = op.counts[0] ?? 1;
    const stride = op.srcStrides[0] ?? 0;
    if (op.counts.length === 0 || rows <= 1 || stride <= 0) {
      // Not split: ready once its last byte is there.
      const last = op.srcOffset + ahead + Math.max(0, (rows - 1) * stride);
      add(last, op);
      continue;
    }
    let r = 0;
    while (r < rows) {
      const end = op.srcOffset + r * stride + ahead;
      const j = Math.max(0, Math.ceil(end / chunkBytes) - 1);
      const bound = Math.min((j + 1) * chunkBytes, total);
      // Rows whose last byte is below the bound (at least row r, which is).
      const upTo = Math.min(rows, Math.floor((bound - op.srcOffset - ahead) / stride) + 1);
      const next = Math.max(upTo, r + 1);
      add(end, {
        ...op,
        srcOffset: op.srcOffset + r * stride,
        dstOffset: op.dstOffset + r * (op.dstStrides[0] ?? 0),
        counts: [next - r, ...op.counts.slice(1)],
      });
      r = next;
    }
  }
  return [...pieces.entries()].sort((a, b) => a[0] - b[0]).map(([j, ops]) => ({
    plan: {
      sourceBytes: plan.sourceBytes,
      targetBytes: plan.targetBytes,
      ops: ops.sort((a, b) => a.dstOffset - b.dstOffset),
    },
    readyAt: Math.min((j + 1) * chunkBytes, total),
  }));
}

/**
 * Runs the pieces of a plan from `source` into `target` as the source fills
 * up: `advance(n)` once the first `n` bytes of `source` are there runs every
 * piece ready by then, `finish()` runs the rest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chunkPlan, ChunkedRun } from "./plan_chunks.ts";
 * const plan = {
 *   sourceBytes: [8], targetBytes: 8,
 *   ops: [{ source: 0, srcOffset: 0, dstOffset: 0, counts: [8], srcStrides: [1],
 *     dstStrides: [1], from: "uint8" as const, to: "uint8" as const }],
 * };
 * const source = new Uint8Array(8);
 * const target = new Uint8Array(8);
 * const run = new ChunkedRun(chunkPlan(plan, 4), source, target);
 * source.set([1, 2, 3, 4]);
 * run.advance(4);
 * assert.deepEqual([...target], [1, 2, 3, 4, 0, 0, 0, 0]);
 * source.set([5, 6, 7, 8], 4);
 * run.finish();
 * assert.deepEqual([...target], [1, 2, 3, 4, 5, 6, 7, 8]);
 * ```
 */
export class ChunkedRun {
  readonly #chunks: readonly PlanChunk[];
  readonly #source: Uint8Array;
  readonly #target: Uint8Array;
  #next = 0;

  /** Prepares a run; nothing is written before `advance()` or `finish()`. */
  constructor(chunks: readonly PlanChunk[], source: Uint8Array, target: Uint8Array) {
    this.#chunks = chunks;
    this.#source = source;
    this.#target = target;
  }

  /** Runs the pieces that read only the first `received` bytes of the source. */
  advance(received: number): void {
    while (this.#next < this.#chunks.length && this.#chunks[this.#next]!.readyAt <= received) {
      executePlan(this.#chunks[this.#next++]!.plan, [this.#source], this.#target);
    }
  }

  /** Runs every piece not run yet. */
  finish(): void {
    this.advance(Infinity);
    metrics.reshapedBytes.inc(this.#target.byteLength);
  }
}
