/**
 * Sample inputs for a function's dry run: a buffer of its declared input
 * layout filled with deterministic pseudo-random values. Pure.
 *
 * @module
 */

import type { FieldEntry } from "./fields.ts";

/**
 * Fills a buffer of `byteLength` bytes: floats in [0, 4), integers in
 * [0, 100), booleans 0 or 1, the same for the same seed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleBytes } from "./sample.ts";
 * const fields = [{ name: "x", aliases: [], type: "float64" as const, offset: 0, length: 4, shape: [4] }];
 * const a = sampleBytes(32, fields, 1);
 * assert.deepEqual(a, sampleBytes(32, fields, 1));
 * assert.ok(new Float64Array(a.buffer).every((v) => v >= 0 && v < 4));
 * ```
 */
export function sampleBytes(
  byteLength: number,
  fields: readonly FieldEntry[],
  seed: number,
): Uint8Array {
  const bytes = new Uint8Array(byteLength);
  const view = new DataView(bytes.buffer);
  let state = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    // xorshift32: cheap, deterministic, good enough for sample values.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
  for (const f of fields) {
    for (let i = 0; i < f.length; i++) {
      const r = next();
      switch (f.type) {
        case "float32":
          view.setFloat32(f.offset + 4 * i, r * 4, true);
          break;
        case "float64":
          view.setFloat64(f.offset + 8 * i, r * 4, true);
          break;
        case "int8":
        case "uint8":
          view.setUint8(f.offset + i, Math.floor(r * 100));
          break;
        case "bool":
          view.setUint8(f.offset + i, r < 0.5 ? 0 : 1);
          break;
        case "int16":
        case "uint16":
          view.setUint16(f.offset + 2 * i, Math.floor(r * 100), true);
          break;
        case "int32":
        case "uint32":
          view.setUint32(f.offset + 4 * i, Math.floor(r * 100), true);
          break;
        case "int64":
        case "uint64":
          view.setBigUint64(f.offset + 8 * i, BigInt(Math.floor(r * 100)), true);
          break;
      }
    }
  }
  return bytes;
}
