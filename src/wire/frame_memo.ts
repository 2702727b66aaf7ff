/**
 * Encoding and decoding of `fetch` and `header` frames from templates: a
 * stream of steps sends the same frames again and again but for a few
 * numbers (request id, version, byte length, checksum), while building or
 * reading the Cap'n Proto message with its layouts costs 0.1-0.2 ms each way
 * (a third of moving 1 MiB over loopback; bench/transfer_bench.ts). The
 * first frame of a shape is encoded (or decoded) in full and kept as a
 * template with the places of those numbers; later frames of the same shape
 * copy the template and write (or read) the numbers there. The bytes are
 * exactly what `encodeFrame` writes and the frames exactly what
 * `decodeFrame` reads. Pure: no I/O.
 *
 * @module
 */

import { WireProtocolError } from "../errors.ts";
import {
  decodeFrame,
  encodeFrame,
  type FetchFrame,
  type Frame,
  type HeaderFrame,
} from "./codec.ts";

/** A number of a frame that changes from one step to the next, and its width on the wire. */
interface Scalar {
  readonly get: (f: Frame) => number;
  readonly set: (f: Frame, v: number) => Frame;
  readonly bytes: 4 | 8;
}

const fetchOf = (f: Frame) => f as FetchFrame;
const headerOf = (f: Frame) => f as HeaderFrame;

const SCALARS: Readonly<Record<"fetch" | "header", readonly Scalar[]>> = {
  fetch: [
    { get: (f) => fetchOf(f).id, set: (f, id) => ({ ...fetchOf(f), id }), bytes: 4 },
    {
      get: (f) => fetchOf(f).copy.version,
      set: (f, version) => ({ ...fetchOf(f), copy: { ...fetchOf(f).copy, version } }),
      bytes: 8,
    },
    {
      get: (f) => fetchOf(f).copy.byteLength,
      set: (f, byteLength) => ({ ...fetchOf(f), copy: { ...fetchOf(f).copy, byteLength } }),
      bytes: 8,
    },
    {
      get: (f) => fetchOf(f).copy.checksum,
      set: (f, checksum) => ({ ...fetchOf(f), copy: { ...fetchOf(f).copy, checksum } }),
      bytes: 4,
    },
  ],
  header: [
    { get: (f) => headerOf(f).id, set: (f, id) => ({ ...headerOf(f), id }), bytes: 4 },
    {
      get: (f) => headerOf(f).version,
      set: (f, version) => ({ ...headerOf(f), version }),
      bytes: 8,
    },
    {
      get: (f) => headerOf(f).byteLength,
      set: (f, byteLength) => ({ ...headerOf(f), byteLength }),
      bytes: 8,
    },
    {
      get: (f) => headerOf(f).checksum,
      set: (f, checksum) => ({ ...headerOf(f), checksum }),
      bytes: 4,
    },
  ],
};

/** Values the template is encoded with, and the ones each number is changed to to find it. */
const BASE = [0x01020304, 0x0102030405, 0x0203040506, 0x0a0b0c0d];
const MOVED = [0xfefdfcfb, 0x1e1d1c1b1a, 0x1d1c1b1a19, 0xf5f4f3f2];

/** A frame shape: its bytes with the numbers zeroed, and where each number lives. */
interface Template {
  readonly frame: Frame;
  readonly bytes: Uint8Array;
  readonly offsets: readonly number[];
}

const latin1 = new TextDecoder("latin1");

/**
 * Encodes and decodes frames through templates. A shape gets a template the
 * second time it is seen (a frame seen once costs no more than before), and
 * at most `size` shapes are kept each way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFrame, encodeFrame } from "./codec.ts";
 * import { FrameMemo } from "./frame_memo.ts";
 * const memo = new FrameMemo();
 * const layout = { byteLength: 8, slots: [] };
 * const header = (id: number) => ({
 *   kind: "header" as const, id, dataset: "d", version: id, fragment: "dataset", bindings: {},
 *   layout, byteLength: 8, checksum: 7 * id,
 * });
 * for (const id of [1, 2, 3]) {
 *   const bytes = memo.encode(header(id));
 *   assert.deepEqual(bytes, encodeFrame(header(id)));
 *   assert.deepEqual(memo.decode(bytes), decodeFrame(bytes));
 * }
 * ```
 */
export class FrameMemo {
  readonly #size: number;
  /** Shapes seen once (by `shapeKey`). */
  readonly #seen = new Set<string>();
  /** Templates to encode with, by `shapeKey`; null for a shape that cannot have one. */
  readonly #encoded = new Map<string, Template | null>();
  /** Templates to decode with, by the bytes of a frame with its numbers zeroed. */
  readonly #decoded = new Map<string, Template>();
  /** Offsets of the numbers of the decode templates, by kind and frame length. */
  readonly #shapes = new Map<string, (readonly number[])[]>();

  /** Creates an empty memo. */
  constructor(options: { readonly size?: number } = {}) {
    this.#size = options.size ?? 256;
  }

  /** The bytes of `frame`, as `encodeFrame` writes them. */
  encode(frame: Frame): Uint8Array {
    if (frame.kind !== "fetch" && frame.kind !== "header") return encodeFrame(frame);
    const key = shapeKey(frame);
    let t = this.#encoded.get(key);
    if (t === undefined) {
      if (!this.#sawBefore(key)) return encodeFrame(frame);
      t = learn(frame);
      remember(this.#encoded, key, t, this.#size);
    }
    if (t === null) return encodeFrame(frame);
    const out = t.bytes.slice();
    const view = new DataView(out.buffer);
    SCALARS[frame.kind].forEach((s, i) => write(view, t.offsets[i]!, s.bytes, s.get(frame)));
    return out;
  }

  /** The frame in `bytes`, as `decodeFrame` reads it. */
  decode(bytes: Uint8Array): Frame {
    for (const kind of ["fetch", "header"] as const) {
      for (const offsets of this.#shapes.get(`${kind}/${bytes.length}`) ?? []) {
        const t = this.#decoded.get(maskedKey(bytes, offsets, SCALARS[kind]));
        // The same bytes but for the numbers, which sit where the template has them.
        if (t === undefined || t.frame.kind !== kind || t.offsets !== offsets) continue;
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return SCALARS[kind].reduce<Frame>(
          (f, s, i) => s.set(f, read(view, offsets[i]!, s.bytes)),
          t.frame,
        );
      }
    }
    const frame = decodeFrame(bytes);
    if (frame.kind !== "fetch" && frame.kind !== "header") return frame;
    if (!this.#sawBefore(shapeKey(frame))) return frame;
    const t = learn(frame);
    // Kept only when the peer wrote the frame as this codec does, numbers aside.
    if (t !== null && sameMasked(bytes, t)) {
      if (this.#decoded.size >= this.#size) {
        this.#decoded.clear();
        this.#shapes.clear();
      }
      this.#decoded.set(maskedKey(bytes, t.offsets, SCALARS[frame.kind]), t);
      const shape = `${frame.kind}/${bytes.length}`;
      const list = this.#shapes.get(shape) ?? [];
      const same = list.find((o) => o.join() === t.offsets.join());
      if (same === undefined) list.push(t.offsets);
      else this.#decoded.set(maskedKey(bytes, same, SCALARS[frame.kind]), { ...t, offsets: same });
      this.#shapes.set(shape, list);
    }
    return frame;
  }

  /** Whether a shape was seen before; remembers it otherwise. */
  #sawBefore(key: string): boolean {
    if (this.#seen.has(key)) return true;
    if (this.#seen.size >= this.#size * 4) this.#seen.clear();
    this.#seen.add(key);
    return false;
  }
}

/** A frame with its numbers zeroed, as text: frames of one shape share it. */
function shapeKey(frame: Frame & { kind: "fetch" | "header" }): string {
  return JSON.stringify(SCALARS[frame.kind].reduce((f, s) => s.set(f, 0), frame as Frame));
}

/**
 * The template of `frame`'s shape: encoded with known numbers, then with
 * each number changed on its own, to see which bytes hold it. Null when a
 * change moves anything else (the frame is then always encoded in full).
 */
function learn(frame: Frame & { kind: "fetch" | "header" }): Template | null {
  const scalars = SCALARS[frame.kind];
  const base = scalars.reduce((f, s, i) => s.set(f, BASE[i]!), frame as Frame);
  const bytes = encodeFrame(base);
  const offsets: number[] = [];
  for (let i = 0; i < scalars.length; i++) {
    const s = scalars[i]!;
    const moved = encodeFrame(s.set(base, MOVED[i]!));
    if (moved.length !== bytes.length) return null;
    let first = -1;
    let last = -1;
    for (let k = 0; k < bytes.length; k++) {
      if (bytes[k] !== moved[k]) {
        if (first < 0) first = k;
        last = k;
      }
    }
    // The lowest byte of each pair differs: the number starts at the first change.
    if (first < 0 || last >= first + s.bytes || first + s.bytes > bytes.length) return null;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (read(view, first, s.bytes) !== BASE[i]) return null;
    if (offsets.some((o, j) => first < o + scalars[j]!.bytes && o < first + s.bytes)) return null;
    offsets.push(first);
  }
  scalars.forEach((s, i) => bytes.fill(0, offsets[i]!, offsets[i]! + s.bytes));
  return { frame: scalars.reduce((f, s) => s.set(f, 0), frame as Frame), bytes, offsets };
}

/** Whether `bytes` equal the template's bytes outside the numbers. */
function sameMasked(bytes: Uint8Array, t: Template): boolean {
  if (bytes.length !== t.bytes.length) return false;
  const masked = bytes.slice();
  SCALARS[t.frame.kind as "fetch" | "header"].forEach((s, i) =>
    masked.fill(0, t.offsets[i]!, t.offsets[i]! + s.bytes)
  );
  for (let k = 0; k < masked.length; k++) if (masked[k] !== t.bytes[k]) return false;
  return true;
}

function maskedKey(
  bytes: Uint8Array,
  offsets: readonly number[],
  scalars: readonly Scalar[],
): string {
  const masked = bytes.slice();
  scalars.forEach((s, i) => masked.fill(0, offsets[i]!, offsets[i]! + s.bytes));
  return latin1.decode(masked);
}

function remember<T>(map: Map<string, T>, key: string, value: T, size: number): void {
  if (map.size >= size) map.clear();
  map.set(key, value);
}

function write(view: DataView, at: number, bytes: 4 | 8, v: number): void {
  if (bytes === 4) view.setUint32(at, v, true);
  else view.setBigUint64(at, BigInt(v), true);
}

function read(view: DataView, at: number, bytes: 4 | 8): number {
  if (bytes === 4) return view.getUint32(at, true);
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WireProtocolError(`Invalid number ${v} in a frame: expected a safe integer`);
  }
  return Number(v);
}
