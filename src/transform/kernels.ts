/**
 * Copy kernels generated for each loop shape, so that a plan runs as fast as a
 * loop written by hand for its shape.
 *
 * A loop that reads strides and types from data runs at half the speed of a
 * hand-written one in V8. Instead, every distinct shape (the number of loop
 * dimensions, whether the two innermost are tiled, and for each fused member
 * the scalar types, whether each side is read through a typed array or a
 * DataView, which view it shares with other fields of its struct and at what
 * constant shift, and which strides are 1) gets its own function, compiled
 * once with `new Function` and cached by a signature string. Each generated
 * function has its own call sites, so every element access in it is
 * monomorphic; counts and strides arrive as numbers, so one kernel serves every
 * array length. Views start at the first scalar they reach, so an index is a
 * plain sum of `i * stride` terms.
 *
 * Hot path: guarded by `bench/transform_bench.ts` (every shape).
 *
 * @module
 */

import type { NumericType } from "./scalar.ts";

/**
 * How a kernel reaches one side of a member: a typed array view (index in
 * elements) or a DataView (index in bytes, little-endian).
 */
export interface Access {
  /** Scalar type read or written. */
  readonly type: NumericType;
  /** Whether a typed array view is used (aligned) rather than a DataView. */
  readonly view: boolean;
}

/**
 * One copy fused into a kernel's loop body: it reads source view `src` at the
 * view's running index plus `srcShift`, and writes target view `dst` at its
 * index plus `dstShift`. Members that share a view (fields of one struct) share
 * its index arithmetic; the shifts are baked into the code as constants.
 */
export interface MemberShape {
  /** How the source scalar is read. */
  readonly from: Access;
  /** How the target scalar is written. */
  readonly to: Access;
  /** Index of the source view. */
  readonly src: number;
  /** Constant added to the source view's index (elements, or bytes for a DataView). */
  readonly srcShift: number;
  /** Index of the target view. */
  readonly dst: number;
  /** Constant added to the target view's index. */
  readonly dstShift: number;
}

/**
 * Everything a generated kernel is specialised for. Strides are shared through
 * slots: per loop dimension, each distinct stride value is one slot, and a
 * slot whose stride is 1 is baked in as the loop index itself.
 */
export interface KernelShape {
  /** Number of loop dimensions, outermost first. */
  readonly dims: number;
  /** Whether the two innermost dimensions run in square tiles (transposition). */
  readonly blocked: boolean;
  /** Per dimension, per source stride slot: whether the stride is 1. */
  readonly srcSlots: readonly (readonly boolean[])[];
  /** Per dimension, per target stride slot: whether the stride is 1. */
  readonly dstSlots: readonly (readonly boolean[])[];
  /** Per source view, the stride slot it uses in each dimension. */
  readonly srcViews: readonly (readonly number[])[];
  /** Per target view, the stride slot it uses in each dimension. */
  readonly dstViews: readonly (readonly number[])[];
  /** The fused copies, written in this order for each index tuple. */
  readonly members: readonly MemberShape[];
}

/**
 * A generated kernel: `src` and `dst` are its views, each starting at the
 * first scalar it reaches; `params` holds the counts per dimension, then the
 * source strides of the slots that are not 1 (dimension by dimension), then
 * the target ones, in elements for typed views and bytes for DataViews.
 */
export type Kernel = (
  src: readonly ArrayBufferView[],
  dst: readonly ArrayBufferView[],
  params: readonly number[],
) => void;

/**
 * Side of the square tiles of a blocked kernel, in elements. 32 x 32 float64
 * tiles (8 KiB per side) stay in L1 while both sides are walked.
 */
export const TILE = 32;

/** Typed array constructor per scalar type (`bool` is a byte). */
export const VIEW_TYPES = {
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  float32: Float32Array,
  float64: Float64Array,
  bool: Uint8Array,
} as const;

const DATAVIEW_NAMES: Readonly<Record<NumericType, string>> = {
  int8: "Int8",
  int16: "Int16",
  int32: "Int32",
  int64: "BigInt64",
  uint8: "Uint8",
  uint16: "Uint16",
  uint32: "Uint32",
  uint64: "BigUint64",
  float32: "Float32",
  float64: "Float64",
  bool: "Uint8",
};

/**
 * Most kernels kept. Shapes repeat (one per struct layout and access pattern),
 * so the cache stays small in practice; the bound keeps a stream of unusual
 * layouts from growing it without limit (the oldest kernel is dropped first).
 */
export const MAX_KERNELS = 4096;

const cache = new Map<string, Kernel>();

/**
 * The kernel for a shape, generated on first use and cached by signature.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelFor } from "./kernels.ts";
 * // 1-D: dst[i] = src[2 * i + 1] as float64 -> float32.
 * const k = kernelFor({
 *   dims: 1, blocked: false, srcSlots: [[false]], dstSlots: [[true]],
 *   srcViews: [[0]], dstViews: [[0]],
 *   members: [{ from: { type: "float64", view: true }, to: { type: "float32", view: true },
 *     src: 0, srcShift: 1, dst: 0, dstShift: 0 }],
 * });
 * const src = new Float64Array([0, 1.5, 0, 2.5]);
 * const dst = new Float32Array(2);
 * k([src], [dst], [2, 2]);
 * assert.deepEqual([...dst], [1.5, 2.5]);
 * ```
 */
export function kernelFor(shape: KernelShape): Kernel {
  const key = signature(shape);
  let kernel = cache.get(key);
  if (kernel === undefined) {
    const make = new Function("toBig", `"use strict";\n${kernelSource(shape)}`) as (
      toBig: (x: number) => bigint,
    ) => Kernel;
    kernel = make(toBig);
    if (cache.size >= MAX_KERNELS) cache.delete(cache.keys().next().value!);
    cache.set(key, kernel);
  }
  return kernel;
}

/**
 * The cache key of a shape: two shapes with the same signature share a kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signature } from "./kernels.ts";
 * const s = signature({
 *   dims: 0, blocked: false, srcSlots: [], dstSlots: [], srcViews: [[]], dstViews: [[]],
 *   members: [{ from: { type: "int8", view: true }, to: { type: "int8", view: false },
 *     src: 0, srcShift: 0, dst: 0, dstShift: 0 }],
 * });
 * assert.equal(s, "0|flat|||||int8>int8@dv:0+0>0+0");
 * ```
 */
export function signature(shape: KernelShape): string {
  const slots = (t: readonly (readonly boolean[])[]) =>
    t.map((r) => r.map((u) => (u ? "1" : "n")).join("")).join(".");
  const views = (t: readonly (readonly number[])[]) => t.map((v) => v.join(".")).join(",");
  const members = shape.members.map((m) =>
    `${access(m.from)}>${access(m.to)}:${m.src}+${m.srcShift}>${m.dst}+${m.dstShift}`
  );
  return [
    shape.dims,
    shape.blocked ? "tiled" : "flat",
    slots(shape.srcSlots),
    slots(shape.dstSlots),
    views(shape.srcViews),
    views(shape.dstViews),
    members.join(";"),
  ].join("|");
}

function access(a: Access): string {
  return `${a.type}${a.view ? "" : "@dv"}`;
}

/** Number of kernels generated so far (for tests and benchmarks). */
export function kernelCount(): number {
  return cache.size;
}

/**
 * The JavaScript body of the kernel for a shape: `return function kernel(S,
 * D, P) { ... }`, closing over `toBig`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelSource } from "./kernels.ts";
 * const text = kernelSource({
 *   dims: 1, blocked: false, srcSlots: [[true]], dstSlots: [[true]],
 *   srcViews: [[0]], dstViews: [[0]],
 *   members: [{ from: { type: "int32", view: false }, to: { type: "int32", view: true },
 *     src: 0, srcShift: 0, dst: 0, dstShift: 0 }],
 * });
 * assert.ok(text.includes("D0[i0] = S0.getInt32(i0, true);"));
 * ```
 */
export function kernelSource(shape: KernelShape): string {
  const { dims, members } = shape;
  // The signature makes the text unique per shape: V8 caches code compiled from
  // equal source text, type feedback included, so two shapes with the same text
  // (float64 and uint32 words, say) would share feedback and turn polymorphic.
  const out: string[] = [`// ${signature(shape)}`, "return function kernel(S, D, P) {"];
  shape.srcViews.forEach((_, v) => out.push(`const S${v} = S[${v}];`));
  shape.dstViews.forEach((_, v) => out.push(`const D${v} = D[${v}];`));
  let p = 0;
  for (let k = 0; k < dims; k++) out.push(`const n${k} = P[${p++}];`);
  for (const [side, table] of [["s", shape.srcSlots], ["d", shape.dstSlots]] as const) {
    table.forEach((row, k) =>
      row.forEach((unit, j) => {
        if (!unit) out.push(`const ${side}s${k}_${j} = P[${p++}];`);
      })
    );
  }
  const tiled = shape.blocked && dims >= 2 ? dims - 2 : dims;
  let close = 0;
  // Running index of each view once dimensions 0..k are fixed.
  let srcIndex = shape.srcViews.map(() => "");
  let dstIndex = shape.dstViews.map(() => "");
  const plus = (base: string, term: string) => (base === "" ? term : `${base} + ${term}`);
  const unitOf = (side: "s" | "d", k: number, j: number) =>
    (side === "s" ? shape.srcSlots : shape.dstSlots)[k]?.[j] === true;
  const term = (side: "s" | "d", k: number, j: number, i: string) =>
    unitOf(side, k, j) ? i : `${i} * ${side}s${k}_${j}`;
  const next = (side: "s" | "d", k: number, index: string[], i: string) =>
    (side === "s" ? shape.srcViews : shape.dstViews).map((slots, v) =>
      plus(index[v]!, term(side, k, slots[k]!, i))
    );
  const fix = (k: number, src: string[], dst: string[]) => {
    src.forEach((x, v) => out.push(`const s${k}_${v} = ${x};`));
    dst.forEach((x, v) => out.push(`const d${k}_${v} = ${x};`));
    srcIndex = src.map((_, v) => `s${k}_${v}`);
    dstIndex = dst.map((_, v) => `d${k}_${v}`);
  };
  const at = (index: string | undefined, shift: number) =>
    shift === 0 ? index || "0" : index ? `${index} + ${shift}` : `${shift}`;
  const body = (src: readonly string[], dst: readonly string[]) =>
    members.map((m) => {
      const value = read(m, at(src[m.src], m.srcShift));
      return write(m, at(dst[m.dst], m.dstShift), convert(value, m.from.type, m.to.type));
    });
  for (let k = 0; k < tiled; k++) {
    out.push(`for (let i${k} = 0; i${k} < n${k}; i${k}++) {`);
    close++;
    const src = next("s", k, srcIndex, `i${k}`);
    const dst = next("d", k, dstIndex, `i${k}`);
    if (k === dims - 1) {
      srcIndex = src;
      dstIndex = dst;
    } else {
      fix(k, src, dst);
    }
  }
  if (tiled < dims) {
    tiles(out, dims - 2, { shape, srcIndex, dstIndex, next, body });
  } else {
    out.push(...body(srcIndex, dstIndex));
  }
  for (let c = 0; c < close; c++) out.push("}");
  out.push("};");
  return out.join("\n");
}

/** Members up to which tiled kernels also unroll 4 x 4 register blocks. */
const MICRO_MEMBERS = 4;

interface TileParts {
  shape: KernelShape;
  srcIndex: string[];
  dstIndex: string[];
  next: (side: "s" | "d", k: number, index: string[], i: string) => string[];
  body: (src: readonly string[], dst: readonly string[]) => string[];
}

/**
 * The two innermost dimensions a (read fastest) and b (written fastest) in
 * TILE x TILE tiles, each tile in 4 x 4 blocks written out in full so that
 * four reads from four source rows feed four adjacent writes (V8 keeps them in
 * registers), with plain loops for the edges.
 */
function tiles(out: string[], a: number, p: TileParts): void {
  const b = a + 1;
  const micro = p.shape.members.length <= MICRO_MEMBERS;
  // `mult` times a view's stride along dimension k, with multiples of
  // non-unit strides computed once, outside the tiles.
  const sides = {
    s: { slots: p.shape.srcSlots, views: p.shape.srcViews },
    d: { slots: p.shape.dstSlots, views: p.shape.dstViews },
  };
  const offset = (side: "s" | "d", view: number, k: number, mult: number) => {
    const j = sides[side].views[view]![k]!;
    if (mult === 0) return "";
    if (sides[side].slots[k]![j]) return ` + ${mult}`;
    return mult === 1 ? ` + ${side}s${k}_${j}` : ` + ${side}s${k}_${j}x${mult}`;
  };
  for (const side of micro ? (["s", "d"] as const) : []) {
    for (const k of [a, b]) {
      sides[side].slots[k]!.forEach((unit, j) => {
        if (unit) return;
        for (const mult of [2, 3]) {
          out.push(`const ${side}s${k}_${j}x${mult} = ${mult} * ${side}s${k}_${j};`);
        }
      });
    }
  }
  out.push(`for (let t${a} = 0; t${a} < n${a}; t${a} += ${TILE}) {`);
  out.push(`const e${a} = Math.min(t${a} + ${TILE}, n${a});`);
  out.push(`for (let t${b} = 0; t${b} < n${b}; t${b} += ${TILE}) {`);
  out.push(`const e${b} = Math.min(t${b} + ${TILE}, n${b});`);
  out.push(`let i${a} = t${a};`);
  const plain = (ia: string) => {
    out.push(`for (let i${b} = t${b}; i${b} < e${b}; i${b}++) {`);
    const sa = p.next("s", a, p.srcIndex, ia);
    const da = p.next("d", a, p.dstIndex, ia);
    out.push(...p.body(p.next("s", b, sa, `i${b}`), p.next("d", b, da, `i${b}`)));
    out.push("}");
  };
  if (micro) {
    out.push(`for (; i${a} + 4 <= e${a}; i${a} += 4) {`);
    out.push(`let i${b} = t${b};`);
    out.push(`for (; i${b} + 4 <= e${b}; i${b} += 4) {`);
    // Index of each view at the block's corner; the 16 elements are constant offsets from it.
    const corner = (side: "s" | "d", index: string[]) =>
      p.next(side, b, p.next(side, a, index, `i${a}`), `i${b}`).map((x, v) => {
        out.push(`const ${side}c${v} = ${x};`);
        return `${side}c${v}`;
      });
    const sc = corner("s", p.srcIndex);
    const dc = corner("d", p.dstIndex);
    for (let u = 0; u < 4; u++) {
      for (let v = 0; v < 4; v++) {
        out.push(...p.body(
          sc.map((c, view) => c + offset("s", view, a, u) + offset("s", view, b, v)),
          dc.map((c, view) => c + offset("d", view, a, u) + offset("d", view, b, v)),
        ));
      }
    }
    out.push("}");
    out.push(`for (; i${b} < e${b}; i${b}++) {`);
    for (let u = 0; u < 4; u++) {
      const ia = u === 0 ? `i${a}` : `(i${a} + ${u})`;
      const sa = p.next("s", a, p.srcIndex, ia);
      const da = p.next("d", a, p.dstIndex, ia);
      out.push(...p.body(p.next("s", b, sa, `i${b}`), p.next("d", b, da, `i${b}`)));
    }
    out.push("}");
    out.push("}");
  }
  out.push(`for (; i${a} < e${a}; i${a}++) {`);
  plain(`i${a}`);
  out.push("}");
  out.push("}");
  out.push("}");
}

function read(m: MemberShape, index: string): string {
  return m.from.view
    ? `S${m.src}[${index}]`
    : `S${m.src}.get${DATAVIEW_NAMES[m.from.type]}(${index}, true)`;
}

function write(m: MemberShape, index: string, value: string): string {
  return m.to.view
    ? `D${m.dst}[${index}] = ${value};`
    : `D${m.dst}.set${DATAVIEW_NAMES[m.to.type]}(${index}, ${value}, true);`;
}

function isBig(t: NumericType): boolean {
  return t === "int64" || t === "uint64";
}
function isFloat(t: NumericType): boolean {
  return t === "float32" || t === "float64";
}

/**
 * The expression converting `value` from one type to another. Stores into a
 * typed array (or DataView) already wrap integers and round floats; only bool
 * targets and crossings between numbers and bigints need code.
 */
function convert(value: string, from: NumericType, to: NumericType): string {
  if (from === to) return value;
  const fromBig = isBig(from);
  if (to === "bool") return fromBig ? `(${value} !== 0n ? 1 : 0)` : `(${value} ? 1 : 0)`;
  const toBigInt = isBig(to);
  if (fromBig && toBigInt) return value;
  if (fromBig) return isFloat(to) ? `Number(${value})` : `Number(BigInt.asUintN(32, ${value}))`;
  if (toBigInt) return isFloat(from) ? `toBig(${value})` : `BigInt(${value})`;
  return value;
}

/** A float as a 64-bit integer: truncated toward zero, NaN and infinities as 0. */
function toBig(x: number): bigint {
  return Number.isFinite(x) ? BigInt(Math.trunc(x)) : 0n;
}
