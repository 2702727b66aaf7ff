/**
 * The frames between the function service and a sandbox process: a header
 * of JSON and a payload of raw bytes, each length-prefixed, over the
 * process's standard input (requests) and standard output (replies).
 *
 * ```
 * u32 LE header length | u32 LE payload length | header (UTF-8 JSON) | payload
 * ```
 *
 * The payload carries array bytes as they are (a call's input, a result's
 * output arrays), so they cross the pipe with no encoding. Pure: no `Deno.*`.
 *
 * @module
 */

// Taken when the module loads: a sandbox process loads it before any
// function, so a function that replaces JSON.stringify in its own process
// does not change how replies are framed.
const { stringify } = JSON;
const encoder = new TextEncoder();

/** Bytes before a frame's header: its two lengths. */
export const PREFIX_BYTES = 8;

/**
 * The prefix and header of a frame whose payload is `payloadBytes` long:
 * write it, then the payload.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeHead, readPrefix } from "./frames.ts";
 * const head = encodeHead({ id: 1, t: "run" }, 16);
 * assert.deepEqual(readPrefix(head), { headerBytes: head.length - 8, payloadBytes: 16 });
 * ```
 */
export function encodeHead(header: unknown, payloadBytes: number): Uint8Array<ArrayBuffer> {
  const json = encoder.encode(stringify(header));
  const out = new Uint8Array(PREFIX_BYTES + json.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  view.setUint32(4, payloadBytes, true);
  out.set(json, PREFIX_BYTES);
  return out;
}

/**
 * The two lengths at the start of `bytes` (at least 8 bytes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPrefix } from "./frames.ts";
 * assert.deepEqual(readPrefix(new Uint8Array([2, 0, 0, 0, 1, 0, 0, 0])), { headerBytes: 2, payloadBytes: 1 });
 * ```
 */
export function readPrefix(bytes: Uint8Array): { headerBytes: number; payloadBytes: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, PREFIX_BYTES);
  return { headerBytes: view.getUint32(0, true), payloadBytes: view.getUint32(4, true) };
}

/** One typed array within a payload. */
export interface ArrayEntry {
  /** The result's key. */
  readonly name: string;
  /** Its constructor's name, such as `Float32Array`. */
  readonly type: string;
  /** Where its bytes start in the payload (a multiple of 8). */
  readonly offset: number;
  /** Its length in elements. */
  readonly length: number;
}

/**
 * Typed array constructors by name: the only kinds a payload entry may
 * name. A sandbox process takes its constructors from here too, before any
 * function runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TYPED_ARRAYS } from "./frames.ts";
 * assert.equal(TYPED_ARRAYS.Float32Array, Float32Array);
 * ```
 */
export const TYPED_ARRAYS: Readonly<
  Record<string, { new (b: ArrayBuffer, o: number, n: number): unknown }>
> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

/**
 * Where typed arrays go in one payload, each aligned to 8 bytes: their
 * entries and the payload's length, so a writer can send the arrays as they
 * are, each followed by its padding, without packing them first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutArrays } from "./frames.ts";
 * const { entries, bytes } = layoutArrays({ a: new Float32Array(3), b: new Uint8Array(1) });
 * assert.deepEqual(entries.map((e) => e.offset), [0, 16]);
 * assert.equal(bytes, 24);
 * ```
 */
export function layoutArrays(
  arrays: Readonly<Record<string, ArrayBufferView>>,
): { entries: ArrayEntry[]; bytes: number } {
  const entries: ArrayEntry[] = [];
  let bytes = 0;
  for (const [name, a] of Object.entries(arrays)) {
    const size = (a as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    entries.push({ name, type: a.constructor.name, offset: bytes, length: a.byteLength / size });
    bytes += (a.byteLength + 7) & ~7;
  }
  return { entries, bytes };
}

/**
 * Lays typed arrays out in one payload, each aligned to 8 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packArrays, unpackArrays } from "./frames.ts";
 * const { entries, payload } = packArrays({ a: new Float32Array([1, 2]), b: new Uint8Array([7]) });
 * const back = unpackArrays(entries, payload);
 * assert.deepEqual([...(back.a as Float32Array)], [1, 2]);
 * assert.deepEqual([...(back.b as Uint8Array)], [7]);
 * ```
 */
export function packArrays(
  arrays: Readonly<Record<string, ArrayBufferView>>,
): { entries: ArrayEntry[]; payload: Uint8Array } {
  const { entries, bytes } = layoutArrays(arrays);
  const payload = new Uint8Array(bytes);
  let i = 0;
  for (const a of Object.values(arrays)) {
    payload.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), entries[i++]!.offset);
  }
  return { entries, payload };
}

/**
 * Typed arrays over `payload` as `entries` name them; throws `TypeError`
 * on an entry that names no typed array kind or reaches past the payload.
 */
export function unpackArrays(
  entries: readonly ArrayEntry[],
  payload: Uint8Array,
): Record<string, unknown> {
  if (!Array.isArray(entries)) throw new TypeError("Expected a list of output arrays");
  const out: Record<string, unknown> = {};
  for (const e of entries) {
    const Ctor = Object.hasOwn(TYPED_ARRAYS, e?.type) ? TYPED_ARRAYS[e.type] : undefined;
    if (Ctor === undefined || typeof e.name !== "string") {
      throw new TypeError(`Output array '${String(e?.name)}' names no typed array kind`);
    }
    const size = (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    if (
      !Number.isSafeInteger(e.offset) || !Number.isSafeInteger(e.length) || e.offset < 0 ||
      e.length < 0 || e.offset % 8 !== 0 || e.offset + e.length * size > payload.byteLength
    ) {
      throw new TypeError(`Output array '${e.name}' reaches past the reply's bytes`);
    }
    out[e.name] = new Ctor(
      payload.buffer as ArrayBuffer,
      payload.byteOffset + e.offset,
      e.length,
    );
  }
  return out;
}
