/**
 * Reading bounded request bodies.
 *
 * @module
 */

import { InvalidRequestError, PayloadTooLargeError, SizeMismatchError } from "../errors.ts";
import { joinBytes } from "../http/join_bytes.ts";

/** One decoder for every body (decoding without `stream` keeps no state). */
const utf8 = new TextDecoder();

/**
 * A request body that sends no byte for this long is refused (400
 * `invalid_request`): a client stalled mid-body would otherwise hold its
 * request's place among those in flight for good. A body of a declared
 * length under `EXACT_FROM` must come whole within it.
 */
export const BODY_IDLE_MS = 30_000;

/** Options of the body readers. */
export interface BodyReadOptions {
  /** Longest pause between a body's bytes, ms (default `BODY_IDLE_MS`). */
  readonly idleMs?: number;
}

/**
 * Reads a request body as text, refusing more than `limit` bytes without
 * reading past the limit (a 413 `payload_too_large`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBoundedText } from "./body.ts";
 * const req = new Request("http://x/", { method: "POST", body: "hello" });
 * assert.equal(await readBoundedText(req, 10), "hello");
 * ```
 */
export async function readBoundedText(req: Request, limit: number): Promise<string> {
  return utf8.decode(await readBoundedBytes(req, limit));
}

/**
 * Reads a request body as bytes, refusing more than `limit` bytes without
 * reading past the limit (a 413 `payload_too_large`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBoundedBytes } from "./body.ts";
 * const req = new Request("http://x/", { method: "POST", body: "hi" });
 * assert.deepEqual(await readBoundedBytes(req, 10), new Uint8Array([104, 105]));
 * ```
 */
export async function readBoundedBytes(
  req: Request,
  limit: number,
  options: BodyReadOptions = {},
): Promise<Uint8Array> {
  const idleMs = options.idleMs ?? BODY_IDLE_MS;
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (declared > limit) tooLarge(declared, limit);
  // A body of a declared length within the limit is read in one call, not
  // chunk by chunk: the HTTP server holds it to that length, and this is
  // the cost of every control request (bench/registry_wrk_bench.ts). Its
  // stream is not asked for first: making it took a tenth of a small
  // request's time.
  if (Number.isSafeInteger(declared) && declared >= EXACT_FROM && req.body !== null) {
    return await readDeclared(req.body, declared, idleMs);
  }
  if (Number.isSafeInteger(declared)) {
    try {
      return new Uint8Array(
        await beforeIdle(req.arrayBuffer(), idleMs, () => stalled(idleMs, `a body of ${declared}`)),
      );
    } catch (e) {
      if (e instanceof InvalidRequestError) throw e;
      throw new InvalidRequestError(
        `Cannot read the request body: ${(e as Error)?.message ?? String(e)}`,
        { cause: e },
      );
    }
  }
  if (req.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunksOf(req.body, idleMs)) {
    total += chunk.byteLength;
    if (total > limit) tooLarge(total, limit);
    chunks.push(chunk);
  }
  return joinBytes(chunks);
}

/**
 * Bodies of a declared length from this size are read chunk by chunk into
 * one buffer of that length. `Request.arrayBuffer()` grows its buffer by
 * doubling as the body arrives, and a grown buffer a tier then keeps (a
 * product stored whole) leaves the next body to grow in fresh memory: a 1
 * MiB body took 3 ms of the server's time that way, against about 1 ms read
 * into its own buffer.
 */
export const EXACT_FROM = 256 * 1024;

/**
 * From this size a body's buffer is made before its bytes come: glibc maps
 * a buffer this large on its own (32 MiB is its largest mmap threshold, and
 * the one the tasks set), whose pages are taken only as bytes land in
 * them. A smaller buffer may reuse memory the allocator zeroes at once, so
 * it is made once the bytes have come: a request that declares a body and
 * sends nothing holds no memory.
 */
const MAPPED_FROM = 32 << 20;

/** A body of `declared` bytes, read into one buffer of that length. */
function readDeclared(
  body: ReadableStream<Uint8Array>,
  declared: number,
  idleMs: number,
): Promise<Uint8Array<ArrayBuffer>> {
  return readSized(body, declared, Infinity, idleMs, (received) =>
    new InvalidRequestError(
      typeof received === "string"
        ? `Invalid request body: longer than its content-length of ${declared} bytes`
        : `Invalid request body: ${received} bytes received of the ${declared} its content-length declares`,
    ));
}

/**
 * A body of exactly `size` bytes, in one buffer of that length: made before
 * the bytes from `MAPPED_FROM`, once they have all come below it. Past
 * `limit` a 413; longer than `size`, `fail("more than <size>")`; shorter,
 * `fail(<bytes received>)`.
 */
async function readSized(
  body: ReadableStream<Uint8Array> | null,
  size: number,
  limit: number,
  idleMs: number,
  fail: (received: number | string) => Error,
): Promise<Uint8Array<ArrayBuffer>> {
  const out = size >= MAPPED_FROM ? new Uint8Array(size) : undefined;
  const chunks: Uint8Array[] = [];
  let received = 0;
  if (body !== null) {
    for await (const chunk of chunksOf(body, idleMs)) {
      const next = received + chunk.byteLength;
      if (next > limit) tooLarge(next, limit);
      // The HTTP server holds a body to a declared length; a longer one is refused all the same.
      if (next > size) throw fail(`more than ${size}`);
      if (out === undefined) chunks.push(chunk);
      else out.set(chunk, received);
      received = next;
    }
  }
  if (received !== size) throw fail(received);
  return out ?? joinBytes(chunks);
}

/**
 * The chunks of a body; a body that breaks off or is malformed (an invalid
 * chunk size in chunked transfer encoding that the HTTP server finds once
 * the handler reads), or that sends nothing for `idleMs`, is a 400
 * `invalid_request`, not a 500.
 */
async function* chunksOf(
  body: ReadableStream<Uint8Array>,
  idleMs: number,
): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let done = false;
  let received = 0;
  try {
    for (;;) {
      let read: ReadableStreamReadResult<Uint8Array>;
      try {
        read = await beforeIdle(
          reader.read(),
          idleMs,
          () => stalled(idleMs, `${received} bytes of a body`),
        );
      } catch (e) {
        if (e instanceof InvalidRequestError) throw e;
        throw new InvalidRequestError(
          `Cannot read the request body: ${(e as Error)?.message ?? String(e)}`,
          { cause: e },
        );
      }
      if (read.done) {
        done = true;
        return;
      }
      received += read.value.byteLength;
      yield read.value;
    }
  } finally {
    // Refused early (too large, too long): the rest is not read.
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** A body read under way with its deadline (`performance.now()` time). */
interface Stall {
  readonly at: number;
  readonly fail: () => Error;
  reject?: (e: Error) => void;
}

/** Body reads under way: one timer watches them all (a timer per read cost 3 µs of each request). */
const stalls = new Set<Stall>();
let ticker: ReturnType<typeof setInterval> | undefined;
/** How often the watch looks, at most, ms. */
const TICK_MS = 250;

function tick(): void {
  const now = performance.now();
  for (const s of stalls) {
    if (now < s.at) continue;
    stalls.delete(s);
    s.reject?.(s.fail());
  }
  if (stalls.size === 0) {
    clearInterval(ticker);
    ticker = undefined;
  }
}

/** `op`, or `fail()` thrown once `ms` pass first (give or take `TICK_MS`). */
async function beforeIdle<T>(op: Promise<T>, ms: number, fail: () => Error): Promise<T> {
  const stall: Stall = { at: performance.now() + ms, fail };
  stalls.add(stall);
  if (ticker === undefined) {
    ticker = setInterval(tick, Math.min(TICK_MS, ms));
    // Reads under way keep the process alive, not their watch.
    Deno.unrefTimer(ticker);
  }
  try {
    // One promise settled by whichever comes first (cheaper than Promise.race's two).
    return await new Promise<T>((resolve, reject) => {
      stall.reject = reject;
      op.then(resolve, reject);
    });
  } finally {
    stalls.delete(stall);
  }
}

/** The 400 of a body that stopped coming. */
function stalled(idleMs: number, after: string): InvalidRequestError {
  return new InvalidRequestError(
    `Request body stalled: nothing came for ${idleMs} ms after ${after}; send the body without pausing (a client stopped mid-body, or its network cut off)`,
    { fields: { idleMs } },
  );
}

/**
 * The 413 of a body past its limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tooLarge } from "./body.ts";
 * assert.throws(() => tooLarge(10, 4), /limit is 4 bytes, received 10/);
 * ```
 */
export function tooLarge(size: number, limit: number): never {
  throw new PayloadTooLargeError(
    `Request body too large: limit is ${limit} bytes, received ${size} or more`,
    { fields: { limit, received: size } },
  );
}

/**
 * Reads a payload body into one buffer of the size its layout expects,
 * each byte copied once (made once the bytes have come under 32 MiB, as
 * `readBoundedBytes` does). A body over `limit` is a 413 before any byte
 * is read when its length is declared; a body shorter or longer than
 * `expected` is a 400 `size_mismatch` naming both sizes, and nothing is kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readExactBody } from "./body.ts";
 * const req = new Request("http://x/", { method: "PUT", body: new Uint8Array([1, 2, 3, 4]) });
 * assert.deepEqual(await readExactBody(req, { expected: 4, limit: 1024, what: "fragment 'viz'" }), new Uint8Array([1, 2, 3, 4]));
 * ```
 */
export async function readExactBody(
  req: Request,
  options: {
    readonly expected: number;
    readonly limit: number;
    readonly what: string;
    /** The fragment, for the error's fields (default: none named). */
    readonly fragment?: string;
  } & BodyReadOptions,
): Promise<Uint8Array> {
  const { expected, limit, what, fragment = "", idleMs = BODY_IDLE_MS } = options;
  const header = req.headers.get("content-length");
  const declared = header === null ? undefined : Number(header);
  if (declared !== undefined && declared > limit) tooLarge(declared, limit);
  if (expected > limit) tooLarge(expected, limit);
  const mismatch = (received: number | string) =>
    new SizeMismatchError(fragment, expected, received, {
      message: `Cannot publish ${what}: expected ${expected} bytes, received ${received}`,
    });
  if (declared !== undefined && declared !== expected) {
    await req.body?.cancel();
    throw mismatch(declared);
  }
  return await readSized(req.body, expected, limit, idleMs, mismatch);
}
