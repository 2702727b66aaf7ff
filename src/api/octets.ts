/**
 * Octet-stream answers without a copy of their bytes: Deno's `Response`
 * copies a buffer given as its body (a fresh copy of a 32 MiB attach is
 * about 17 ms of page faults and copying here), but sends the chunks of a
 * stream as they are. Pieces back to back in one buffer go as one view of
 * it; other small pieces are joined and small bodies sent as one buffer,
 * where a stream's per-chunk cost would outweigh the copy.
 *
 * @module
 */

import { adjacentRuns } from "../services/frames.ts";
import { joinBytes } from "../http/join_bytes.ts";

/** Bodies from this size are streamed in views of `STREAM_CHUNK` bytes rather than copied. */
export const STREAM_FROM = 1 << 20;

/** Bytes per streamed view of a large piece. */
const STREAM_CHUNK = 1 << 20;

/** Pieces smaller than this are copied together into buffers of at most this size; larger ones are sent as they are. */
const JOIN_BELOW = 64 * 1024;

/**
 * An answer whose body is `pieces` one after the other: one small buffer
 * as the body itself, with its `content-length`, anything else a stream of
 * the pieces (small ones joined, large ones in views of a MiB), chunked
 * unless `options.length` (then with its `content-length`: a client that
 * reads it whole reads it into one buffer of that length). The pieces must
 * not change until the answer is sent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { octetResponse } from "./octets.ts";
 * const big = new Uint8Array(3 << 20).fill(7);
 * const res = octetResponse([new Uint8Array([1, 2]), big], { "strata-version": "3" });
 * assert.equal(res.headers.get("content-length"), null);
 * assert.equal(octetResponse([big], {}, { length: true }).headers.get("content-length"), String(3 << 20));
 * assert.equal(octetResponse([new Uint8Array(5)]).headers.get("content-length"), "5");
 * const got = new Uint8Array(await res.arrayBuffer());
 * assert.deepEqual([got[0], got[1], got[2], got.byteLength], [1, 2, 7, 2 + (3 << 20)]);
 * ```
 */
export function octetResponse(
  pieces: readonly Uint8Array<ArrayBuffer>[],
  headers: Readonly<Record<string, string>> = {},
  options: { readonly length?: boolean } = {},
): Response {
  const byteLength = pieces.reduce((n, p) => n + p.byteLength, 0);
  const all = {
    "content-type": "application/octet-stream",
    ...headers,
    "content-length": String(byteLength),
  };
  const chunks = coalesce(pieces);
  // Small pieces joined into one buffer (a batch of small products) go as one body too.
  if (chunks.length <= 1 && byteLength < STREAM_FROM) {
    return new Response(chunks[0] ?? new Uint8Array(0), { headers: all });
  }
  // Streamed without a length (chunked) by default: with one, HEPnOS batched
  // loads of 128 x 10 kB ran at two thirds of the rate when the client read
  // them through a `Response` (bench/services_bench.ts), and a Python client
  // read a 64 MiB attach in 81 ms against 69-74. Services' answers, read
  // whole by their clients (`HttpAgent.fetchBytes`), keep it.
  const sent = options.length ? all : withoutLength(all);
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const c = chunks[at++];
      if (c === undefined) controller.close();
      else controller.enqueue(c);
    },
  });
  return new Response(body, { headers: sent });
}

/** `headers` without its `content-length`. */
function withoutLength(headers: Record<string, string>): Record<string, string> {
  const { "content-length": _, ...rest } = headers;
  return rest;
}

/**
 * Pieces back to back in one buffer as one view (`adjacentRuns`: the
 * products of a batch stored and loaded together are views of the body
 * that stored them, in HEPnOS's value cache), then small pieces joined
 * into buffers of at most `JOIN_BELOW` bytes, large ones cut into views.
 */
function coalesce(all: readonly Uint8Array<ArrayBuffer>[]): Uint8Array<ArrayBuffer>[] {
  const pieces = adjacentRuns(all);
  const out: Uint8Array<ArrayBuffer>[] = [];
  let run: Uint8Array<ArrayBuffer>[] = [];
  const flush = () => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) out.push(joinBytes(run));
    run = [];
  };
  let runBytes = 0;
  for (const p of pieces) {
    if (p.byteLength >= JOIN_BELOW) {
      flush();
      for (let at = 0; at < p.byteLength; at += STREAM_CHUNK) {
        out.push(p.subarray(at, at + STREAM_CHUNK));
      }
      continue;
    }
    // Joined chunks stay small too: one buffer of a 1.28 MB answer was
    // slower to send than its pieces streamed.
    if (runBytes + p.byteLength > JOIN_BELOW) flush();
    run.push(p);
    runBytes = run.length === 1 ? p.byteLength : runBytes + p.byteLength;
  }
  flush();
  return out;
}
