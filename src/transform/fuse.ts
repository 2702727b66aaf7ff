/**
 * From plan ops to executable tasks, for one alignment of the buffers: raw
 * copies become memcpys, rows of memcpys or word loops; conversions become
 * bulk typed-array conversions or loops; loops that share a source and an
 * iteration shape are fused into one kernel that makes a single pass (an
 * array of structs split into four columns reads the source once, not four
 * times).
 *
 * Hot path: guarded by `bench/transform_bench.ts` (every shape).
 *
 * @module
 */

import { isBitCopy } from "./convert.ts";
import { type Access, type Kernel, kernelFor, type KernelShape, signature } from "./kernels.ts";
import { normaliseOp, toByteCopy } from "./merge.ts";
import type { CopyOp, Plan } from "./op.ts";
import { NUMERIC_SIZES, type NumericType } from "./scalar.ts";

/** How a task reaches a buffer: a typed array of this type, or a DataView. */
export type ViewKind = NumericType | "dataview";

/** A view one kernel member reads or writes through. */
export interface ViewSpec {
  /** Typed array type, or a DataView. */
  readonly kind: ViewKind;
  /** Byte offset of the view in its buffer (the member's first scalar). */
  readonly offset: number;
  /** Length of the view, in elements (typed) or bytes (DataView). */
  readonly length: number;
}

/** A unit of execution. Offsets of memcpy, rows and convert tasks are in bytes. */
export type Task =
  | {
    readonly kind: "memcpy";
    readonly source: number;
    readonly srcOffset: number;
    readonly dstOffset: number;
    readonly bytes: number;
  }
  | {
    readonly kind: "rows";
    readonly source: number;
    readonly srcOffset: number;
    readonly dstOffset: number;
    readonly bytes: number;
    readonly counts: readonly number[];
    readonly srcStrides: readonly number[];
    readonly dstStrides: readonly number[];
  }
  | {
    readonly kind: "convert";
    readonly source: number;
    readonly from: NumericType;
    readonly to: NumericType;
    readonly srcOffset: number;
    readonly dstOffset: number;
    readonly count: number;
  }
  | {
    readonly kind: "loop";
    /** The kernel's signature (see `signature` in kernels.ts). */
    readonly shape: string;
    readonly source: number;
    readonly srcViews: readonly ViewSpec[];
    readonly dstViews: readonly ViewSpec[];
    readonly kernel: Kernel;
    readonly params: readonly number[];
  };

/**
 * Rows of raw bytes at least this long are copied with `Uint8Array.set`;
 * shorter rows run as word loops, where one call per row costs more than the
 * copy (measured on the benchmark machine: rows of 256 bytes move at 10.5 GB/s
 * with `set` and 14.9 GB/s in a float64 loop, rows of 512 bytes at 17.3 and
 * 15.5 GB/s, rows of 4 KiB at 48.5 and 15.9 GB/s).
 */
export const ROW_BYTES = 512;
/** Innermost dimensions this short are unrolled into fused members. */
export const UNROLL = 8;
/** Most members fused into one kernel. */
export const MAX_MEMBERS = 16;
/** A source stride from this many bytes up, on the target's fastest axis, calls for tiles. */
export const TILE_STRIDE = 64;

const WORDS: Readonly<Record<number, NumericType>> = {
  8: "float64",
  4: "uint32",
  2: "uint16",
  1: "uint8",
};

interface Dim {
  count: number;
  src: number;
  dst: number;
}

interface Member {
  from: Access;
  to: Access;
  src: ViewSpec;
  dst: ViewSpec;
  srcStrides: number[];
  dstStrides: number[];
}

interface LoopPart {
  source: number;
  counts: number[];
  blocked: boolean;
  members: Member[];
}

/**
 * The tasks that execute a plan when source `i` starts at a byte offset `=
 * srcResidues[i] (mod 8)` in its ArrayBuffer and the target at `dstResidue`
 * (alignment decides between typed array views and DataViews).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tasksFor } from "./fuse.ts";
 * const tasks = tasksFor({
 *   sourceBytes: [64],
 *   targetBytes: 64,
 *   ops: [{ source: 0, srcOffset: 0, dstOffset: 0, counts: [64], srcStrides: [1],
 *     dstStrides: [1], from: "uint8", to: "uint8" }],
 * }, [0], 0);
 * assert.equal(tasks[0]?.kind, "memcpy");
 * ```
 */
export function tasksFor(plan: Plan, srcResidues: readonly number[], dstResidue: number): Task[] {
  const tasks: Task[] = [];
  const parts: LoopPart[] = [];
  for (const op of plan.ops) {
    if (op.counts.some((c) => c === 0)) continue;
    const rs = srcResidues[op.source] ?? 0;
    if (isBitCopy(op.from, op.to)) rawTasks(op, rs, dstResidue, tasks, parts);
    else convertTasks(op, rs, dstResidue, tasks, parts);
  }
  tasks.push(...fuse(parts));
  return tasks;
}

function rawTasks(op: CopyOp, rs: number, rt: number, tasks: Task[], parts: LoopPart[]): void {
  const b = toByteCopy(op);
  const dims = dimsOf(b);
  const last = dims[dims.length - 1];
  let run = 1;
  if (last !== undefined && last.src === 1 && last.dst === 1) {
    run = last.count;
    dims.pop();
  }
  const { source, srcOffset, dstOffset } = b;
  if (dims.length === 0) {
    tasks.push({ kind: "memcpy", source, srcOffset, dstOffset, bytes: run });
    return;
  }
  if (run >= ROW_BYTES) {
    tasks.push({
      kind: "rows",
      source,
      srcOffset,
      dstOffset,
      bytes: run,
      counts: dims.map((d) => d.count),
      srcStrides: dims.map((d) => d.src),
      dstStrides: dims.map((d) => d.dst),
    });
    return;
  }
  let w = 8;
  while (run % w !== 0) w /= 2;
  // DataView.setFloat64 may canonicalise NaN payloads: 8-byte words move as
  // float64 only between typed views, otherwise as two uint32.
  const aligned = (residue: number, offset: number, strides: number[]) =>
    (residue + offset) % 8 === 0 && strides.every((s) => s % 8 === 0);
  if (
    w === 8 && (!aligned(rs, srcOffset, dims.map((d) => d.src)) ||
      !aligned(rt, dstOffset, dims.map((d) => d.dst)))
  ) {
    w = 4;
  }
  if (run > w) dims.push({ count: run / w, src: w, dst: w });
  const type = WORDS[w]!;
  parts.push(loopPart(source, dims, { type, offset: srcOffset, residue: rs }, {
    type,
    offset: dstOffset,
    residue: rt,
  }));
}

function convertTasks(op: CopyOp, rs: number, rt: number, tasks: Task[], parts: LoopPart[]): void {
  const n = normaliseOp(op);
  const from = n.from as NumericType;
  const to = n.to as NumericType;
  const dims = dimsOf(n);
  const fs = NUMERIC_SIZES[from];
  const ts = NUMERIC_SIZES[to];
  const d = dims[0];
  const srcAligned = (rs + n.srcOffset) % fs === 0;
  const dstAligned = (rt + n.dstOffset) % ts === 0;
  // One contiguous run: the engine's own bulk conversion (TypedArray.prototype.set).
  if (
    dims.length <= 1 && (d === undefined || (d.src === fs && d.dst === ts)) &&
    srcAligned && dstAligned && bulkConvertible(from, to)
  ) {
    tasks.push({
      kind: "convert",
      source: n.source,
      from,
      to,
      srcOffset: n.srcOffset,
      dstOffset: n.dstOffset,
      count: d?.count ?? 1,
    });
    return;
  }
  parts.push(
    loopPart(n.source, dims, { type: from, offset: n.srcOffset, residue: rs }, {
      type: to,
      offset: n.dstOffset,
      residue: rt,
    }),
  );
}

/**
 * Whether to convert a contiguous run with `TypedArray.prototype.set`: it
 * converts exactly as the kernels do unless the target is a bool or one side
 * is a bigint, and it is faster than a kernel loop (1.3 to 3x for integer
 * sources, 1.0 to 1.6x for float64 -> float32) except from floats to
 * integers, where it is 0.5 to 0.85x of the loop (measured on the benchmark
 * machine, 4M elements per pair).
 */
function bulkConvertible(from: NumericType, to: NumericType): boolean {
  const big = (t: NumericType) => t === "int64" || t === "uint64";
  const float = (t: NumericType) => t === "float32" || t === "float64";
  return to !== "bool" && big(from) === big(to) && (!float(from) || float(to));
}

function dimsOf(op: CopyOp): Dim[] {
  return op.counts.map((count, k) => ({
    count,
    src: op.srcStrides[k]!,
    dst: op.dstStrides[k]!,
  }));
}

interface Side {
  type: NumericType;
  offset: number;
  residue: number;
}

/** A loop over byte-strided dims: unroll short inner dims, tile transpositions, pick accesses. */
function loopPart(source: number, dims: Dim[], src: Side, dst: Side): LoopPart {
  let offsets = [{ src: src.offset, dst: dst.offset }];
  for (;;) {
    const last = dims[dims.length - 1];
    if (last === undefined || last.count > UNROLL) break;
    if (offsets.length * last.count > MAX_MEMBERS) break;
    dims.pop();
    offsets = offsets.flatMap((o) =>
      Array.from({ length: last.count }, (_, i) => ({
        src: o.src + i * last.src,
        dst: o.dst + i * last.dst,
      }))
    );
  }
  let blocked = false;
  if (dims.length >= 2) {
    const b = dims.length - 1;
    let c = 0;
    dims.forEach((d, k) => {
      if (Math.abs(d.src) < Math.abs(dims[c]!.src)) c = k;
    });
    const inner = dims[b]!;
    const across = dims[c]!;
    if (c !== b && Math.abs(inner.src) >= TILE_STRIDE && inner.count >= 4 && across.count >= 4) {
      dims.splice(c, 1);
      dims.splice(dims.length - 1, 0, across);
      blocked = true;
    }
  }
  const fs = NUMERIC_SIZES[src.type];
  const ts = NUMERIC_SIZES[dst.type];
  const srcView = offsets.every((o) => (src.residue + o.src) % fs === 0) &&
    dims.every((d) => d.src % fs === 0);
  const dstView = offsets.every((o) => (dst.residue + o.dst) % ts === 0) &&
    dims.every((d) => d.dst % ts === 0);
  const srcStrides = dims.map((d) => (srcView ? d.src / fs : d.src));
  const dstStrides = dims.map((d) => (dstView ? d.dst / ts : d.dst));
  // Span of one member's accesses, in the view's units, for the view's length.
  const span = (strides: number[], view: boolean, size: number) =>
    dims.reduce((n, d, k) => n + (d.count - 1) * strides[k]!, 0) + (view ? 1 : size);
  const srcLength = span(srcStrides, srcView, fs);
  const dstLength = span(dstStrides, dstView, ts);
  const members = offsets.map((o) => ({
    from: { type: src.type, view: srcView },
    to: { type: dst.type, view: dstView },
    src: { kind: viewKind(src.type, srcView), offset: o.src, length: srcLength },
    dst: { kind: viewKind(dst.type, dstView), offset: o.dst, length: dstLength },
    srcStrides,
    dstStrides,
  }));
  return { source, counts: dims.map((d) => d.count), blocked, members };
}

/** Loops with the same source and iteration shape, as fused kernel tasks. */
function fuse(parts: readonly LoopPart[]): Task[] {
  const groups = new Map<string, LoopPart[]>();
  for (const p of parts) {
    const key = `${p.source}|${p.counts.join(",")}|${p.blocked}`;
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [p]);
    else list.push(p);
  }
  const tasks: Task[] = [];
  for (const list of groups.values()) {
    const first = list[0]!;
    const members = list.flatMap((p) => p.members);
    for (let i = 0; i < members.length; i += MAX_MEMBERS) {
      tasks.push(
        loopTask(first.source, first.counts, first.blocked, members.slice(i, i + MAX_MEMBERS)),
      );
    }
  }
  return tasks;
}

function viewKind(type: NumericType, view: boolean): ViewKind {
  if (!view) return "dataview";
  return type === "bool" ? "uint8" : type;
}

/** Members whose fields lie this close (bytes) in one buffer share a view. */
export const SHARE_BYTES = 256;

interface SharedView {
  spec: { kind: ViewKind; offset: number; length: number };
  strides: readonly number[];
}

/**
 * Views for one side of a fused loop: members reading the same kind of
 * scalars with the same strides, a few bytes apart (fields of one struct),
 * share one view and differ by a constant shift.
 */
function shareViews(
  members: readonly Member[],
  side: "src" | "dst",
): { views: SharedView[]; view: number[]; shift: number[] } {
  const views: SharedView[] = [];
  const view: number[] = [];
  const shift: number[] = [];
  const order = members.map((_, i) => i).sort((a, b) =>
    members[a]![side].offset - members[b]![side].offset
  );
  for (const i of order) {
    const m = members[i]!;
    const spec = m[side];
    const strides = side === "src" ? m.srcStrides : m.dstStrides;
    const unit = spec.kind === "dataview" ? 1 : NUMERIC_SIZES[spec.kind];
    const at = views.findIndex((v) => {
      const d = spec.offset - v.spec.offset;
      return v.spec.kind === spec.kind && d < SHARE_BYTES && d % unit === 0 &&
        v.strides.every((s, k) => s === strides[k]);
    });
    const v = views[at];
    if (v === undefined) {
      view[i] = views.push({ spec: { ...spec }, strides }) - 1;
      shift[i] = 0;
    } else {
      view[i] = at;
      shift[i] = (spec.offset - v.spec.offset) / unit;
      v.spec.length = Math.max(v.spec.length, shift[i]! + spec.length);
    }
  }
  return { views, view, shift };
}

/** Stride slots per dimension: each distinct stride value once. */
function slotsOf(views: readonly SharedView[], dims: number) {
  const values: number[][] = Array.from({ length: dims }, () => []);
  const slots = views.map((v) =>
    v.strides.map((s, k) => {
      const row = values[k]!;
      const at = row.indexOf(s);
      return at >= 0 ? at : row.push(s) - 1;
    })
  );
  return { values, slots };
}

function loopTask(
  source: number,
  counts: readonly number[],
  blocked: boolean,
  members: readonly Member[],
): Task {
  const dims = counts.length;
  const src = shareViews(members, "src");
  const dst = shareViews(members, "dst");
  const srcSlots = slotsOf(src.views, dims);
  const dstSlots = slotsOf(dst.views, dims);
  const shape: KernelShape = {
    dims,
    blocked,
    srcSlots: srcSlots.values.map((row) => row.map((s) => s === 1)),
    dstSlots: dstSlots.values.map((row) => row.map((s) => s === 1)),
    srcViews: srcSlots.slots,
    dstViews: dstSlots.slots,
    members: members.map((m, i) => ({
      from: m.from,
      to: m.to,
      src: src.view[i]!,
      srcShift: src.shift[i]!,
      dst: dst.view[i]!,
      dstShift: dst.shift[i]!,
    })),
  };
  const params = [
    ...counts,
    ...srcSlots.values.flat().filter((s) => s !== 1),
    ...dstSlots.values.flat().filter((s) => s !== 1),
  ];
  return {
    kind: "loop",
    shape: signature(shape),
    source,
    srcViews: src.views.map((v) => v.spec),
    dstViews: dst.views.map((v) => v.spec),
    kernel: kernelFor(shape),
    params,
  };
}
