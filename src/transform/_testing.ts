/**
 * Test helpers: a seeded random generator, random layouts, and a reference
 * transform that copies element by element, written for obviousness rather
 * than speed, against which the compiled plans are checked.
 *
 * @module
 */

import { MissingRegionError } from "../errors.ts";
import type { FieldSlot, FragmentLayout, VarSlot } from "./layout.ts";
import { type NumericType, scalarSize, type ScalarType } from "./scalar.ts";

/** A seeded generator of floats in [0, 1) (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Convenience draws over a generator. */
export class Random {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(0, list.length - 1)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  shuffle<T>(list: readonly T[]): T[] {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }
}

/** A source buffer with its layout. */
export interface Fragment {
  readonly layout: FragmentLayout;
  readonly bytes: Uint8Array;
}

const NUMERIC: readonly NumericType[] = [
  "int8",
  "int16",
  "int32",
  "int64",
  "uint8",
  "uint16",
  "uint32",
  "uint64",
  "float32",
  "float64",
  "bool",
];

/** A leaf of a random element type. */
export interface Leaf {
  readonly path: string;
  readonly type: ScalarType;
  readonly count: number;
}

/** A random struct: 1 to `max` leaves of random scalars, inner arrays and strings. */
export function randomLeaves(r: Random, max = 5): Leaf[] {
  const n = r.int(1, max);
  return Array.from({ length: n }, (_, i) => ({
    path: `f${i}`,
    type: r.chance(0.12) ? { kind: "string" as const, size: r.int(3, 10) } : r.pick(NUMERIC),
    count: r.chance(0.2) ? r.int(2, 4) : 1,
  }));
}

/** A type the leaf may be stored as: itself, or any number for a number. */
export function storedType(r: Random, t: ScalarType, convert: number): ScalarType {
  if (typeof t !== "string" || !r.chance(convert)) return t;
  return r.pick(NUMERIC);
}

/** How the region of a fragment slot walks the variable. */
export interface Region {
  readonly origin: number[];
  readonly axes: { dim: number; step: number; count: number }[];
}

/** How the fields of a slot are placed. */
export interface Placement {
  /** Interleaved (array of structs) or one column per field. */
  readonly columnar: boolean;
  /** First byte of the slot. */
  readonly offset: number;
  /** Padding bytes after each field (AoS) or column (SoA). */
  readonly padding: readonly number[];
}

/**
 * Lays out one slot: fields in the given order, axes row-major in their order
 * (the first axis slowest), with the given padding. Returns the slot and the
 * end of its bytes.
 */
export function placeSlot(
  variable: string,
  region: Region,
  fields: readonly Leaf[],
  p: Placement,
): { slot: VarSlot; end: number } {
  const n = region.axes.reduce((a, x) => a * x.count, 1);
  const strides = (elem: number) => {
    const s: number[] = [];
    let acc = elem;
    for (let k = region.axes.length - 1; k >= 0; k--) {
      s[k] = acc;
      acc *= region.axes[k]!.count;
    }
    return s;
  };
  const out: FieldSlot[] = [];
  let at = p.offset;
  if (p.columnar) {
    fields.forEach((f, i) => {
      const size = scalarSize(f.type) * f.count;
      out.push({ path: f.path, type: f.type, count: f.count, offset: at, strides: strides(size) });
      at += size * n + (p.padding[i] ?? 0);
    });
  } else {
    let elem = 0;
    const offsets = fields.map((f, i) => {
      const o = elem;
      elem += scalarSize(f.type) * f.count + (p.padding[i] ?? 0);
      return o;
    });
    const s = strides(elem);
    fields.forEach((f, i) => {
      out.push({
        path: f.path,
        type: f.type,
        count: f.count,
        offset: at + offsets[i]!,
        strides: s,
      });
    });
    at += elem * n;
  }
  return {
    slot: { name: variable, variable, origin: region.origin, axes: region.axes, fields: out },
    end: at,
  };
}

/** Random placement parameters for `fields` leaves. */
export function randomPlacement(r: Random, fields: number, aligned: boolean): Placement {
  return {
    columnar: r.chance(0.4),
    offset: aligned ? 8 * r.int(0, 2) : r.int(0, 9),
    padding: Array.from({ length: fields }, () => (aligned ? 0 : r.chance(0.3) ? r.int(1, 5) : 0)),
  };
}

type Value = number | bigint;

function readScalar(view: DataView, at: number, t: NumericType): Value {
  switch (t) {
    case "int8":
      return view.getInt8(at);
    case "uint8":
    case "bool":
      return view.getUint8(at);
    case "int16":
      return view.getInt16(at, true);
    case "uint16":
      return view.getUint16(at, true);
    case "int32":
      return view.getInt32(at, true);
    case "uint32":
      return view.getUint32(at, true);
    case "int64":
      return view.getBigInt64(at, true);
    case "uint64":
      return view.getBigUint64(at, true);
    case "float32":
      return view.getFloat32(at, true);
    case "float64":
      return view.getFloat64(at, true);
  }
}

const BITS: Readonly<Record<string, number>> = {
  int8: 8,
  uint8: 8,
  int16: 16,
  uint16: 16,
  int32: 32,
  uint32: 32,
};

/** The documented conversion rules, spelled out value by value. */
function convertValue(v: Value, to: NumericType): Value {
  if (to === "bool") {
    return (typeof v === "bigint" ? v !== 0n : v !== 0 && !Number.isNaN(v)) ? 1 : 0;
  }
  if (to === "float64") return Number(v);
  if (to === "float32") return Math.fround(Number(v));
  if (to === "int64" || to === "uint64") {
    let b: bigint;
    if (typeof v === "bigint") b = v;
    else b = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
    return to === "int64" ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b);
  }
  const bits = BITS[to]!;
  const signed = to.startsWith("int");
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else b = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
  return Number(signed ? BigInt.asIntN(bits, b) : BigInt.asUintN(bits, b));
}

function writeScalar(view: DataView, at: number, t: NumericType, v: Value): void {
  switch (t) {
    case "int8":
      return view.setInt8(at, v as number);
    case "uint8":
    case "bool":
      return view.setUint8(at, v as number);
    case "int16":
      return view.setInt16(at, v as number, true);
    case "uint16":
      return view.setUint16(at, v as number, true);
    case "int32":
      return view.setInt32(at, v as number, true);
    case "uint32":
      return view.setUint32(at, v as number, true);
    case "int64":
      return view.setBigInt64(at, v as bigint, true);
    case "uint64":
      return view.setBigUint64(at, v as bigint, true);
    case "float32":
      return view.setFloat32(at, v as number, true);
    case "float64":
      return view.setFloat64(at, v as number, true);
  }
}

function sameType(a: ScalarType, b: ScalarType): boolean {
  return typeof a === "string" ? a === b : typeof b !== "string" && a.size === b.size;
}

/** Every index tuple below `counts`, in row-major order. */
function* indices(counts: readonly number[]): Generator<number[]> {
  if (counts.some((c) => c === 0)) return;
  const i = counts.map(() => 0);
  for (;;) {
    yield [...i];
    let k = counts.length - 1;
    while (k >= 0 && ++i[k]! === counts[k]!) i[k--] = 0;
    if (k < 0) return;
  }
}

/** Fragment index of variable index `v` in `slot`, if the slot holds it. */
function locate(slot: VarSlot, v: readonly number[]): number[] | undefined {
  const out: number[] = [];
  for (let d = 0; d < v.length; d++) {
    const k = slot.axes.findIndex((a) => a.dim === d);
    const a = slot.axes[k];
    const delta = v[d]! - slot.origin[d]!;
    if (a === undefined) {
      if (delta !== 0) return undefined;
      continue;
    }
    if (delta < 0 || delta % a.step !== 0 || delta / a.step >= a.count) return undefined;
    out[k] = delta / a.step;
  }
  return out;
}

/**
 * The reference transform: for every element of every target field, find the
 * first source slot holding it and copy it scalar by scalar through DataViews.
 * Throws `MissingRegionError` (with one unit box per missing element) when an
 * element is held by no source.
 */
export function referenceTransform(
  sources: readonly Fragment[],
  target: FragmentLayout,
  out: Uint8Array,
): void {
  const dst = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const views = sources.map((s) =>
    new DataView(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength)
  );
  for (const slot of target.slots) {
    for (const field of slot.fields) {
      const missing: number[][] = [];
      for (const i of indices(slot.axes.map((a) => a.count))) {
        const v = [...slot.origin];
        slot.axes.forEach((a, k) => (v[a.dim] = slot.origin[a.dim]! + a.step * i[k]!));
        const to = field.offset + i.reduce((s, x, k) => s + x * field.strides[k]!, 0);
        let found = false;
        search: for (let s = 0; s < sources.length; s++) {
          for (const from of sources[s]!.layout.slots) {
            if (from.variable !== slot.variable) continue;
            const f = from.fields.find((x) => x.path === field.path);
            if (f === undefined) continue;
            const j = locate(from, v);
            if (j === undefined) continue;
            const at = f.offset + j.reduce((acc, x, k) => acc + x * f.strides[k]!, 0);
            copyScalars(views[s]!, at, f.type, dst, to, field.type, field.count);
            found = true;
            break search;
          }
        }
        if (!found) missing.push(v);
      }
      if (missing.length > 0) {
        throw new MissingRegionError(
          slot.variable,
          field.path,
          missing.map((v) => ({ start: v, count: v.map(() => 1) })),
        );
      }
    }
  }
}

function copyScalars(
  src: DataView,
  at: number,
  from: ScalarType,
  dst: DataView,
  to: number,
  type: ScalarType,
  count: number,
): void {
  const fs = scalarSize(from);
  const ts = scalarSize(type);
  for (let c = 0; c < count; c++) {
    if (sameType(from, type)) {
      for (let b = 0; b < fs; b++) dst.setUint8(to + c * ts + b, src.getUint8(at + c * fs + b));
    } else {
      const v = readScalar(src, at + c * fs, from as NumericType);
      writeScalar(dst, to + c * ts, type as NumericType, convertValue(v, type as NumericType));
    }
  }
}

/** Copies `bytes` into a fresh buffer at byte offset `shift`, returning the view. */
export function shifted(bytes: Uint8Array, shift: number): Uint8Array {
  const buf = new Uint8Array(bytes.byteLength + shift + 3);
  buf.set(bytes, shift);
  return buf.subarray(shift, shift + bytes.byteLength);
}
