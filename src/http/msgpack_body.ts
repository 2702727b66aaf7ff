/**
 * Msgpack bodies encoded by encoders kept from one body to the next.
 * `encode()` of `@msgpack/msgpack` makes an encoder with a 2 KiB buffer for
 * each value and doubles it, copying, as the value needs: an answer holding
 * 1.28 MB of product bytes (a HEPnOS batched load of 128 values of 10 kB)
 * took about 7 ms of a server's time in those copies and the page faults
 * of their fresh buffers. A kept encoder has grown once; each body is one
 * copy of its bytes out of it.
 *
 * @module
 */

import { Encoder } from "@msgpack/msgpack";

/** Options of `msgpackBody`: those of `encode()` the callers use. */
export interface MsgpackBodyOptions {
  /** Leave out object keys whose value is undefined. */
  readonly ignoreUndefined?: boolean;
  /** Encode bigints as 64-bit integers. */
  readonly useBigInt64?: boolean;
}

/**
 * An encoder that grew past this keeps no buffer between bodies: one large
 * body leaves no lasting memory behind.
 */
const KEEP_BELOW = 16 << 20;

/** Kept encoders, by their options. */
const kept = new Map<string, Encoder>();

/**
 * `value` as msgpack, in a buffer of its own (the same bytes as `encode()`
 * gives with the same options).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decode, encode } from "@msgpack/msgpack";
 * import { msgpackBody } from "./msgpack_body.ts";
 * const value = { bytes: new Uint8Array(100_000).fill(7), n: 3n, gone: undefined };
 * const body = msgpackBody(value, { ignoreUndefined: true, useBigInt64: true });
 * assert.deepEqual(body, encode(value, { ignoreUndefined: true, useBigInt64: true }));
 * assert.equal(body.byteLength, body.buffer.byteLength);
 * assert.deepEqual(decode(body, { useBigInt64: true }), { bytes: value.bytes, n: 3n });
 * ```
 */
export function msgpackBody(
  value: unknown,
  options: MsgpackBodyOptions = {},
): Uint8Array<ArrayBuffer> {
  const key = `${options.ignoreUndefined === true}:${options.useBigInt64 === true}`;
  let encoder = kept.get(key);
  if (encoder === undefined) {
    encoder = new Encoder({
      ignoreUndefined: options.ignoreUndefined === true,
      useBigInt64: options.useBigInt64 === true,
    });
    kept.set(key, encoder);
  }
  const shared = encoder.encodeSharedRef(value);
  const body = shared.slice();
  if (shared.buffer.byteLength >= KEEP_BELOW) kept.delete(key);
  return body;
}
