/**
 * Plan execution: check the buffers, then run the plan's tasks (memcpys, rows
 * of memcpys, bulk conversions and generated kernels) over views of them.
 *
 * Hot path: guarded by `bench/transform_bench.ts` (every shape).
 *
 * @module
 */

import { LayoutError } from "../errors.ts";
import { checkConversion } from "./convert.ts";
import { type Task, tasksFor, type ViewKind, type ViewSpec } from "./fuse.ts";
import { VIEW_TYPES } from "./kernels.ts";
import type { Plan } from "./op.ts";
import { scalarSize } from "./scalar.ts";

/** Tasks per plan, per alignment of the buffers (byte offsets mod 8). */
const prepared = new WeakMap<Plan, Map<string, Task[]>>();

/**
 * Runs a plan: fills `target` from `sources` (in the plan's source order).
 * Throws `LayoutError` when the number of sources or any buffer's length
 * differs from what the plan was compiled for; the target is untouched then.
 * Target bytes outside every field (padding) keep their values. The target
 * must not share memory with a source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compilePlan, executePlan } from "./mod.ts";
 * const slot = (strides: number[], offsets: number[]) => ({
 *   name: "p", variable: "p", origin: [0], axes: [{ dim: 0, step: 1, count: 2 }],
 *   fields: ["x", "y"].map((path, i) => ({
 *     path, type: "int16" as const, count: 1, offset: offsets[i]!, strides,
 *   })),
 * });
 * const aos = { byteLength: 8, slots: [slot([4], [0, 2])] };
 * const soa = { byteLength: 8, slots: [slot([2], [0, 4])] };
 * const src = new Uint8Array(new Int16Array([1, 2, 3, 4]).buffer);
 * const dst = new Uint8Array(8);
 * executePlan(compilePlan([aos], soa), [src], dst);
 * assert.deepEqual([...new Int16Array(dst.buffer)], [1, 3, 2, 4]);
 * ```
 */
export function executePlan(
  plan: Plan,
  sources: readonly Uint8Array[],
  target: Uint8Array,
): void {
  if (sources.length !== plan.sourceBytes.length) {
    throw new LayoutError(
      `Wrong number of sources: expected ${plan.sourceBytes.length}, received ${sources.length}`,
    );
  }
  sources.forEach((s, i) => {
    const expected = plan.sourceBytes[i]!;
    if (s.byteLength !== expected) {
      throw new LayoutError(
        `Wrong size of source ${i}: expected ${expected} bytes, received ${s.byteLength}`,
      );
    }
  });
  if (target.byteLength !== plan.targetBytes) {
    throw new LayoutError(
      `Wrong size of target: expected ${plan.targetBytes} bytes, received ${target.byteLength}`,
    );
  }
  const srcResidues = sources.map((s) => s.byteOffset % 8);
  const dstResidue = target.byteOffset % 8;
  const key = `${srcResidues.join(",")}>${dstResidue}`;
  let byAlignment = prepared.get(plan);
  if (byAlignment === undefined) {
    checkBounds(plan);
    byAlignment = new Map();
    prepared.set(plan, byAlignment);
  }
  let tasks = byAlignment.get(key);
  if (tasks === undefined) {
    tasks = tasksFor(plan, srcResidues, dstResidue);
    byAlignment.set(key, tasks);
  }
  run(tasks, sources, target);
}

function run(tasks: readonly Task[], sources: readonly Uint8Array[], target: Uint8Array): void {
  for (const task of tasks) {
    const src = sources[task.source]!;
    switch (task.kind) {
      case "memcpy":
        target.set(src.subarray(task.srcOffset, task.srcOffset + task.bytes), task.dstOffset);
        break;
      case "rows":
        copyRows(task, src, target);
        break;
      case "convert": {
        const from = typedView(src, task.from, task.srcOffset, task.count);
        const to = typedView(target, task.to, task.dstOffset, task.count) as Float64Array;
        to.set(from as Float64Array);
        break;
      }
      case "loop":
        task.kernel(
          task.srcViews.map((v) => memberView(src, v)),
          task.dstViews.map((v) => memberView(target, v)),
          task.params,
        );
        break;
    }
  }
}

function typedView(
  bytes: Uint8Array,
  kind: Exclude<ViewKind, "dataview">,
  offset: number,
  length: number,
): ArrayBufferView {
  return new VIEW_TYPES[kind](bytes.buffer as ArrayBuffer, bytes.byteOffset + offset, length);
}

/** The view one kernel member uses: it starts at the member's first scalar. */
function memberView(bytes: Uint8Array, v: ViewSpec): ArrayBufferView {
  if (v.kind === "dataview") {
    return new DataView(bytes.buffer, bytes.byteOffset + v.offset, v.length);
  }
  return typedView(bytes, v.kind, v.offset, v.length);
}

function copyRows(task: Task & { kind: "rows" }, src: Uint8Array, dst: Uint8Array): void {
  const { counts, srcStrides, dstStrides, bytes } = task;
  const dims = counts.length;
  const index = counts.map(() => 0);
  let s = task.srcOffset;
  let d = task.dstOffset;
  for (;;) {
    dst.set(src.subarray(s, s + bytes), d);
    let k = dims - 1;
    for (; k >= 0; k--) {
      s += srcStrides[k]!;
      d += dstStrides[k]!;
      if (++index[k]! < counts[k]!) break;
      s -= srcStrides[k]! * counts[k]!;
      d -= dstStrides[k]! * counts[k]!;
      index[k] = 0;
    }
    if (k < 0) return;
  }
}

/**
 * Checks once per plan that every op stays inside its buffers (a typed array
 * silently ignores writes out of range) and converts only what may be
 * converted: a hand-made or corrupted plan is a `LayoutError`, not a partial
 * copy.
 */
function checkBounds(plan: Plan): void {
  plan.ops.forEach((op, i) => {
    const check = (offset: number, strides: readonly number[], size: number, limit: number) =>
      op.counts.some((c) => c === 0) || (offset >= 0 && strides.every((s) => s >= 0) &&
        op.counts.reduce((end, c, k) => end + (c - 1) * strides[k]!, offset + size) <= limit);
    const limit = plan.sourceBytes[op.source];
    try {
      checkConversion(op.from, op.to, `op ${i}`);
    } catch (cause) {
      throw new LayoutError(`Invalid plan: op ${i} converts a string`, { cause });
    }
    if (
      limit === undefined || op.counts.length !== op.srcStrides.length ||
      op.counts.length !== op.dstStrides.length ||
      !check(op.srcOffset, op.srcStrides, scalarSize(op.from), limit) ||
      !check(op.dstOffset, op.dstStrides, scalarSize(op.to), plan.targetBytes)
    ) {
      throw new LayoutError(`Invalid plan: op ${i} reaches outside its buffers`);
    }
  });
}
