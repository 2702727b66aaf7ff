/**
 * Frames of the data plane as plain values, and their Cap'n Proto encoding
 * (schema/wire.capnp, generated code in gen/). Pure: no I/O.
 *
 * @module
 */

import { type List, Message } from "capnp-es";
import type { FragmentLayout } from "../transform/layout.ts";
import {
  NUMERIC_SIZES,
  type NumericType,
  scalarName,
  type ScalarType,
} from "../transform/scalar.ts";
import { type ErrorFields, WireProtocolError } from "../errors.ts";
import * as S from "./gen/wire.ts";

/** Protocol version carried by `hello` frames. */
export const PROTOCOL = 1;

/** A stored fragment copy as a `fetch` frame names it: as the name server recorded it, with its layout and checksum. */
export interface WireCopy {
  /** Dataset name. */
  readonly dataset: string;
  /** Version number. */
  readonly version: number;
  /** Fragment name. */
  readonly fragment: string;
  /** Region parameters the copy was published with. */
  readonly bindings: Readonly<Record<string, number>>;
  /** Layout of the stored bytes. */
  readonly layout: FragmentLayout;
  /** Byte length of the stored bytes. */
  readonly byteLength: number;
  /** CRC-32 of the stored bytes. */
  readonly checksum: number;
}

/** First frame each way on a connection. */
export interface HelloFrame {
  readonly kind: "hello";
  /** Protocol version (`PROTOCOL`). */
  readonly protocol: number;
  /** Node name of the sender. */
  readonly node: string;
  /** Shared secret, when the cluster has one ("" otherwise). */
  readonly token: string;
}

/** A request for the bytes of a copy laid out as `want`. */
export interface FetchFrame {
  readonly kind: "fetch";
  /** Request id, echoed by the answer. */
  readonly id: number;
  /** The copy to read. */
  readonly copy: WireCopy;
  /** Layout of the bytes to send back. */
  readonly want: FragmentLayout;
}

/** The header that precedes a payload. */
export interface HeaderFrame {
  readonly kind: "header";
  /** Id of the request answered. */
  readonly id: number;
  /** Dataset name. */
  readonly dataset: string;
  /** Version number. */
  readonly version: number;
  /** Fragment name. */
  readonly fragment: string;
  /** Region parameters of the copy the bytes come from. */
  readonly bindings: Readonly<Record<string, number>>;
  /** Layout of the payload. */
  readonly layout: FragmentLayout;
  /** Payload bytes that follow. */
  readonly byteLength: number;
  /** CRC-32 of the payload. */
  readonly checksum: number;
}

/** A request that could not be answered. */
export interface FailureFrame {
  readonly kind: "failure";
  /** Id of the request (0 for a connection-level failure). */
  readonly id: number;
  /** Error code, as in src/errors.ts (`gone`, `checksum_mismatch`, ...). */
  readonly code: string;
  /** Human-readable message. */
  readonly message: string;
  /** The error's fields (`errorBody()` of src/errors.ts), when it has any. */
  readonly fields?: ErrorFields;
}

/** Any frame. */
export type Frame = HelloFrame | FetchFrame | HeaderFrame | FailureFrame;

/**
 * Encodes a frame as one Cap'n Proto message in stream framing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFrame, encodeFrame } from "./codec.ts";
 * const bytes = encodeFrame({ kind: "failure", id: 3, code: "gone", message: "Copy is gone" });
 * assert.deepEqual(decodeFrame(bytes), { kind: "failure", id: 3, code: "gone", message: "Copy is gone" });
 * ```
 */
export function encodeFrame(frame: Frame): Uint8Array {
  const m = new Message();
  const root = m.initRoot(S.Frame);
  switch (frame.kind) {
    case "hello": {
      const h = root._initHello();
      h.protocol = frame.protocol;
      h.node = frame.node;
      h.token = frame.token;
      break;
    }
    case "fetch": {
      const f = root._initFetch();
      f.id = frame.id;
      const c = f._initCopy();
      c.dataset = frame.copy.dataset;
      c.version = BigInt(frame.copy.version);
      c.fragment = frame.copy.fragment;
      writeBindings(c._initRegion(Object.keys(frame.copy.bindings).length), frame.copy.bindings);
      writeLayout(c._initLayout(), frame.copy.layout);
      c.byteLength = BigInt(frame.copy.byteLength);
      c.checksum = frame.copy.checksum;
      writeLayout(f._initWant(), frame.want);
      break;
    }
    case "header": {
      const h = root._initHeader();
      h.id = frame.id;
      h.dataset = frame.dataset;
      h.version = BigInt(frame.version);
      h.fragment = frame.fragment;
      writeBindings(h._initRegion(Object.keys(frame.bindings).length), frame.bindings);
      writeLayout(h._initLayout(), frame.layout);
      h.byteLength = BigInt(frame.byteLength);
      h.checksum = frame.checksum;
      break;
    }
    case "failure": {
      const f = root._initFailure();
      f.id = frame.id;
      f.code = frame.code;
      f.message = frame.message;
      if (frame.fields !== undefined) f.fields = JSON.stringify(frame.fields);
      break;
    }
  }
  return new Uint8Array(m.toArrayBuffer());
}

/**
 * Decodes one Cap'n Proto message (stream framing) into a frame. Throws
 * `WireProtocolError` for bytes that are not a valid frame.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFrame, encodeFrame, PROTOCOL } from "./codec.ts";
 * const hello = { kind: "hello", protocol: PROTOCOL, node: "a", token: "" } as const;
 * assert.deepEqual(decodeFrame(encodeFrame(hello)), hello);
 * ```
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  checkSegments(bytes);
  // Every list entry of a real frame takes at least a word of it.
  const budget: Budget = { words: bytes.byteLength / 8 };
  try {
    const root = new Message(bytes, false).getRoot(S.Frame);
    switch (root.which()) {
      case S.Frame.HELLO: {
        const h = root.hello;
        return { kind: "hello", protocol: h.protocol, node: h.node, token: h.token };
      }
      case S.Frame.FETCH: {
        const f = root.fetch;
        const c = f.copy;
        return {
          kind: "fetch",
          id: f.id,
          copy: {
            dataset: c.dataset,
            version: num(c.version, "version"),
            fragment: c.fragment,
            bindings: readBindings(c.region, budget),
            layout: readLayout(c.layout, budget),
            byteLength: num(c.byteLength, "byteLength"),
            checksum: c.checksum,
          },
          want: readLayout(f.want, budget),
        };
      }
      case S.Frame.HEADER: {
        const h = root.header;
        return {
          kind: "header",
          id: h.id,
          dataset: h.dataset,
          version: num(h.version, "version"),
          fragment: h.fragment,
          bindings: readBindings(h.region, budget),
          layout: readLayout(h.layout, budget),
          byteLength: num(h.byteLength, "byteLength"),
          checksum: h.checksum,
        };
      }
      case S.Frame.FAILURE: {
        const f = root.failure;
        const fields = readFields(f.fields);
        return fields === undefined
          ? { kind: "failure", id: f.id, code: f.code, message: f.message }
          : { kind: "failure", id: f.id, code: f.code, message: f.message, fields };
      }
      default:
        throw new WireProtocolError(`Unknown frame kind ${root.which()}: expected 0 to 3`);
    }
  } catch (e) {
    if (e instanceof WireProtocolError) throw e;
    throw new WireProtocolError(`Invalid frame: ${(e as Error).message}`, { cause: e });
  }
}

/** Most segments in a frame: this codec's frames have one. */
const MAX_SEGMENTS = 64;

/**
 * Checks a message's segment table against its bytes before Cap'n Proto
 * reads it: the reader trusts the count (a frame of 8 bytes claiming a
 * billion segments took minutes and gigabytes), so a count past
 * MAX_SEGMENTS, or segments longer than the bytes, is a `WireProtocolError`.
 */
function checkSegments(bytes: Uint8Array): void {
  if (bytes.byteLength < 8) {
    throw new WireProtocolError(
      `Invalid frame: ${bytes.byteLength} bytes, a Cap'n Proto message takes at least 8`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true) + 1;
  const table = Math.ceil((count + 1) / 2) * 8;
  if (count > MAX_SEGMENTS || table > bytes.byteLength) {
    throw new WireProtocolError(
      `Invalid frame: its segment table names ${count} segments, at most ${MAX_SEGMENTS} in ${bytes.byteLength} bytes`,
    );
  }
  let words = 0;
  for (let i = 0; i < count; i++) words += view.getUint32(4 + 4 * i, true);
  if (table + words * 8 > bytes.byteLength) {
    throw new WireProtocolError(
      `Invalid frame: its segments take ${words * 8} bytes, ${
        bytes.byteLength - table
      } follow its segment table`,
    );
  }
}

/** A failure's fields: a JSON object, or none (an empty text from a peer that sends none). */
function readFields(text: string): ErrorFields | undefined {
  if (text === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new WireProtocolError(`Invalid failure fields: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new WireProtocolError("Invalid failure fields: expected a JSON object");
  }
  return parsed as ErrorFields;
}

function num(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new WireProtocolError(`Invalid ${what} ${v}: expected a safe integer`);
  }
  return Number(v);
}

function writeBindings(list: List<S.Binding>, b: Readonly<Record<string, number>>): void {
  let i = 0;
  for (const name of Object.keys(b).sort()) {
    const e = list.get(i++);
    e.name = name;
    e.value = BigInt(b[name]!);
  }
}

/** List entries a frame may still hold: what its words leave. */
interface Budget {
  words: number;
}

/**
 * A list of a frame, once its length is taken from the frame's budget: a
 * list of zero-size structs takes no bytes whatever its length, so a frame
 * of a few hundred bytes could claim millions of entries (one hung the
 * reader for minutes); no real frame lists more entries than it has words.
 */
function counted<T>(list: Iterable<T> & { readonly length: number }, budget: Budget, what: string) {
  if (list.length > budget.words) {
    throw new WireProtocolError(
      `Invalid frame: it lists ${list.length} ${what}, more than its bytes can hold`,
    );
  }
  budget.words -= list.length;
  return list;
}

function readBindings(
  list: Iterable<S.Binding> & { readonly length: number },
  budget: Budget,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of counted(list, budget, "bindings")) {
    out[e.name] = num(e.value, `binding '${e.name}'`);
  }
  return out;
}

function writeLayout(l: S.Layout, layout: FragmentLayout): void {
  l.byteLength = BigInt(layout.byteLength);
  const slots = l._initSlots(layout.slots.length);
  layout.slots.forEach((s, i) => {
    const out = slots.get(i);
    out.name = s.name;
    out.variable = s.variable;
    const origin = out._initOrigin(s.origin.length);
    s.origin.forEach((o, k) => origin.set(k, BigInt(o)));
    const axes = out._initAxes(s.axes.length);
    s.axes.forEach((a, k) => {
      const ax = axes.get(k);
      ax.dim = a.dim;
      ax.step = BigInt(a.step);
      ax.count = BigInt(a.count);
    });
    const fields = out._initFields(s.fields.length);
    s.fields.forEach((f, k) => {
      const fo = fields.get(k);
      fo.path = f.path;
      fo.type = scalarName(f.type);
      fo.count = f.count;
      fo.offset = BigInt(f.offset);
      const strides = fo._initStrides(f.strides.length);
      f.strides.forEach((st, j) => strides.set(j, BigInt(st)));
    });
  });
}

function scalarOf(name: string): ScalarType {
  if (name in NUMERIC_SIZES) return name as NumericType;
  const m = /^string([0-9]+)$/.exec(name);
  if (m !== null) return { kind: "string", size: Number(m[1]) + 2 };
  throw new WireProtocolError(`Unknown scalar type '${name}': expected a number type or stringN`);
}

function readLayout(l: S.Layout, budget: Budget): FragmentLayout {
  const slots = [];
  for (const s of counted(l.slots, budget, "slots")) {
    const axes = [];
    for (const a of counted(s.axes, budget, "axes")) {
      axes.push({ dim: a.dim, step: num(a.step, "step"), count: num(a.count, "count") });
    }
    const fields = [];
    for (const f of counted(s.fields, budget, "fields")) {
      const strides: number[] = [];
      for (const st of counted(f.strides, budget, "strides")) strides.push(num(st, "stride"));
      fields.push({
        path: f.path,
        type: scalarOf(f.type),
        count: f.count,
        offset: num(f.offset, "offset"),
        strides,
      });
    }
    const origin: number[] = [];
    for (const o of counted(s.origin, budget, "origin values")) origin.push(num(o, "origin"));
    slots.push({ name: s.name, variable: s.variable, origin, axes, fields });
  }
  return { byteLength: num(l.byteLength, "byteLength"), slots };
}
