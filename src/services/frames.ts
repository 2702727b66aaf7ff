/**
 * Framed batches of byte strings, the body of a service's bytes operations
 * (`application/octet-stream`): a 4-byte big-endian header length, a
 * msgpack header whose `sizes` lists each part's length (null: no part),
 * then the parts back to back. Parts travel as raw bytes, never inside
 * msgpack: the reader takes them as views of the body, the writer sends
 * them as they are (bench/services_bench.ts guards this path).
 *
 * @module
 */

import { decode, encode } from "@msgpack/msgpack";
import { InvalidRequestError } from "../errors.ts";

/** The media type of framed bodies. */
export const OCTET_STREAM = "application/octet-stream";

/** A framed body read back: its header and its parts (views of the body). */
export interface Frames {
  /** The header's fields (`sizes` among them). */
  readonly header: Readonly<Record<string, unknown>>;
  /** The parts in order, null where the header's size was null. */
  readonly parts: readonly (Uint8Array | null)[];
}

/**
 * The pieces of a framed body: the header (with `sizes` set from `parts`)
 * and the parts themselves, not copied; send them one after the other.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { frame, unframe } from "./frames.ts";
 * import { joinBytes } from "../http/join_bytes.ts";
 * const body = joinBytes(frame({ op: "x" }, [new Uint8Array([1, 2]), null]));
 * const back = unframe(body);
 * assert.equal(back.header.op, "x");
 * assert.deepEqual(back.parts, [new Uint8Array([1, 2]), null]);
 * ```
 */
export function frame(
  header: Readonly<Record<string, unknown>>,
  parts: readonly (Uint8Array | null | undefined)[],
): Uint8Array<ArrayBuffer>[] {
  const sizes = parts.map((p) => p?.byteLength ?? null);
  const head = encode({ ...header, sizes }, { ignoreUndefined: true, useBigInt64: true });
  const first = new Uint8Array(4 + head.byteLength);
  new DataView(first.buffer).setUint32(0, head.byteLength);
  first.set(head, 4);
  const out: Uint8Array<ArrayBuffer>[] = [first];
  for (const p of parts) if (p != null && p.byteLength > 0) out.push(p as Uint8Array<ArrayBuffer>);
  return out;
}

/**
 * `pieces` with those that lie back to back in one buffer made one view of
 * it (empty pieces dropped): values of one framed body stored or answered
 * together need no copy to be joined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adjacentRuns } from "./frames.ts";
 * const body = new Uint8Array(10);
 * const runs = adjacentRuns([body.subarray(0, 4), body.subarray(4, 6), body.subarray(8)]);
 * assert.deepEqual(runs.map((r) => [r.byteOffset, r.byteLength]), [[0, 6], [8, 2]]);
 * assert.equal(runs[0]!.buffer, body.buffer);
 * ```
 */
export function adjacentRuns<T extends ArrayBufferLike>(
  pieces: readonly Uint8Array<T>[],
): Uint8Array<T>[] {
  const out: Uint8Array<T>[] = [];
  for (const p of pieces) {
    const last = out.at(-1);
    if (
      last !== undefined && last.buffer === p.buffer &&
      last.byteOffset + last.byteLength === p.byteOffset
    ) {
      out[out.length - 1] = new Uint8Array(
        p.buffer,
        last.byteOffset,
        last.byteLength + p.byteLength,
      );
    } else if (p.byteLength > 0) out.push(p);
  }
  return out;
}

/**
 * Reads a framed body; `InvalidRequestError` (400) when its header is not
 * msgpack, lacks `sizes`, or its sizes do not add up to the bytes after it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unframe } from "./frames.ts";
 * assert.throws(() => unframe(new Uint8Array([0, 0])), /Invalid framed body/);
 * ```
 */
export function unframe(body: Uint8Array): Frames {
  const { header, parts } = frameLayout(body, body.byteLength);
  return {
    header,
    parts: parts.map((p) => p === null ? null : body.subarray(p.at, p.at + p.size)),
  };
}

/** Where a framed body's parts lie: its header, and each part's offset and size (null: no part). */
export interface FrameLayout {
  /** The header's fields (`sizes` among them). */
  readonly header: Readonly<Record<string, unknown>>;
  /** Each part's first byte in the body and its size, in order. */
  readonly parts: readonly ({ readonly at: number; readonly size: number } | null)[];
}

/**
 * The layout of a framed body of `byteLength` bytes from its first bytes
 * (at least its header: a staged body's `readFrameHead`), checked as
 * `unframe` checks the whole body, without its parts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { frame, frameLayout } from "./frames.ts";
 * import { joinBytes } from "../http/join_bytes.ts";
 * const body = joinBytes(frame({}, [new Uint8Array(3), null, new Uint8Array(2)]));
 * const { parts } = frameLayout(body.subarray(0, body.byteLength - 5), body.byteLength);
 * assert.deepEqual(parts.map((p) => p?.size ?? null), [3, null, 2]);
 * ```
 */
export function frameLayout(head: Uint8Array, byteLength: number): FrameLayout {
  if (byteLength < 4 || head.byteLength < 4) {
    throw bad(`${byteLength} bytes, expected at least 4`);
  }
  const length = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
  if (4 + length > byteLength) {
    throw bad(`header of ${length} bytes, only ${byteLength - 4} follow`);
  }
  if (4 + length > head.byteLength) {
    // A staged file cut short after it was taken.
    throw bad(`header of ${length} bytes, only ${head.byteLength - 4} could be read`);
  }
  let header: unknown;
  try {
    header = decode(head.subarray(4, 4 + length), { useBigInt64: true });
  } catch (e) {
    throw bad(`header is not msgpack: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw bad("header is not a map");
  }
  const sizes = (header as Record<string, unknown>).sizes;
  if (!Array.isArray(sizes)) throw bad("header has no 'sizes' list");
  const parts: ({ at: number; size: number } | null)[] = [];
  let at = 4 + length;
  for (const s of sizes) {
    if (s === null) {
      parts.push(null);
      continue;
    }
    if (!Number.isSafeInteger(s) || s < 0 || at + s > byteLength) {
      throw bad(`part size ${s} at byte ${at} runs past the body's ${byteLength} bytes`);
    }
    parts.push({ at, size: s });
    at += s;
  }
  if (at !== byteLength) {
    throw bad(`${byteLength - at} bytes after the last part`);
  }
  return { header: header as Record<string, unknown>, parts };
}

/**
 * The first bytes of a framed body kept in a file of `byteLength` bytes
 * (a staged body): its 4-byte length and its header, for `frameLayout`,
 * without reading its parts; all of a file too short to be framed.
 */
export async function readFrameHead(path: string, byteLength: number): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const read = async (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.byteLength;) {
      const n = await file.read(bytes.subarray(at));
      if (n === null) return bytes.subarray(0, at);
      at += n;
    }
    return bytes;
  };
  const first = await read(new Uint8Array(Math.min(4, byteLength)));
  if (first.byteLength < 4) return first;
  const length = new DataView(first.buffer).getUint32(0);
  // A header longer than the body is refused by frameLayout from these 4 bytes.
  if (4 + length > byteLength) return first;
  const head = new Uint8Array(4 + length);
  head.set(first);
  return await read(head.subarray(4)).then((h) => head.subarray(0, 4 + h.byteLength));
}

function bad(detail: string): InvalidRequestError {
  return new InvalidRequestError(`Invalid framed body: ${detail}`);
}
