/**
 * Reading and writing frames and payloads on a byte stream (a TCP
 * connection): Cap'n Proto stream framing, then raw payload bytes.
 *
 * @module
 */

import { UnavailableError, WireProtocolError } from "../errors.ts";
import type { Frame } from "./codec.ts";
import { FrameMemo } from "./frame_memo.ts";

/** The part of `Deno.Conn` the data plane uses, so tests can pass any stream. */
export interface ByteStream {
  /** Reads into `p`; resolves with the bytes read, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves with the bytes written. */
  write(p: Uint8Array): Promise<number>;
}

/** Largest frame accepted by default (a header with its layouts): 1 MiB. */
export const MAX_FRAME_BYTES = 1 << 20;
/** Most segments a frame may have. */
const MAX_SEGMENTS = 64;
/** Payloads up to this size leave in one write with their header. */
const COALESCE_BYTES = 64 * 1024;
/** Templates of the fetch and header frames of this process's connections. */
const frames = new FrameMemo();

/**
 * Reads frames and payloads from a stream through one bounded buffer: a
 * frame larger than `maxFrameBytes` is a `WireProtocolError`, and payload
 * bytes go straight into the caller's buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameReader, type ByteStream } from "./stream.ts";
 * import { encodeFrame } from "./codec.ts";
 * const bytes = encodeFrame({ kind: "failure", id: 1, code: "gone", message: "Gone" });
 * let at = 0;
 * const stream: ByteStream = {
 *   read: (p) => {
 *     if (at === bytes.length) return Promise.resolve(null);
 *     const n = Math.min(p.length, 5, bytes.length - at); // a few bytes at a time
 *     p.set(bytes.subarray(at, at + n));
 *     at += n;
 *     return Promise.resolve(n);
 *   },
 *   write: (p) => Promise.resolve(p.length),
 * };
 * const reader = new FrameReader(stream);
 * assert.equal((await reader.readFrame())?.kind, "failure");
 * assert.equal(await reader.readFrame(), null);
 * ```
 */
export class FrameReader {
  readonly #stream: ByteStream;
  readonly #maxFrameBytes: number;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #received = 0;

  /** Creates a reader over `stream`. */
  constructor(stream: ByteStream, options: { readonly maxFrameBytes?: number } = {}) {
    this.#stream = stream;
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.#buf = new Uint8Array(64 * 1024);
  }

  /**
   * Bytes read from the stream so far: a request whose answer failed with
   * this unchanged got no byte of it (the peer closed a connection it had
   * kept idle), and may be sent again on another connection.
   */
  get received(): number {
    return this.#received;
  }

  /** The next frame, or null when the stream ends cleanly between frames. */
  async readFrame(): Promise<Frame | null> {
    if (!(await this.#fill(4, true))) return null;
    const view = new DataView(this.#buf.buffer, this.#buf.byteOffset);
    const segments = view.getUint32(this.#start, true) + 1;
    if (segments > MAX_SEGMENTS) {
      throw new WireProtocolError(
        `Frame has ${segments} segments: expected at most ${MAX_SEGMENTS}`,
      );
    }
    const table = 4 + 4 * segments;
    const tableBytes = table + (table % 8);
    await this.#fill(tableBytes, false);
    let words = 0;
    const v = new DataView(this.#buf.buffer, this.#buf.byteOffset);
    for (let i = 0; i < segments; i++) words += v.getUint32(this.#start + 4 + 4 * i, true);
    const total = tableBytes + words * 8;
    if (total > this.#maxFrameBytes) {
      throw new WireProtocolError(
        `Frame of ${total} bytes: expected at most ${this.#maxFrameBytes}`,
      );
    }
    await this.#fill(total, false);
    const frame = frames.decode(this.#buf.subarray(this.#start, this.#start + total));
    this.#start += total;
    return frame;
  }

  /**
   * Fills `dst` with the next `dst.length` bytes of the stream, calling
   * `onChunk` with each piece as it arrives (to checksum while the rest is
   * still in flight).
   */
  async readPayload(dst: Uint8Array, onChunk?: (chunk: Uint8Array) => void): Promise<void> {
    let off = Math.min(this.#end - this.#start, dst.length);
    if (off > 0) {
      dst.set(this.#buf.subarray(this.#start, this.#start + off));
      this.#start += off;
      onChunk?.(dst.subarray(0, off));
    }
    while (off < dst.length) {
      const n = await this.#stream.read(dst.subarray(off));
      if (n === null) {
        throw new UnavailableError(
          `Connection closed after ${off} of ${dst.length} payload bytes`,
        );
      }
      this.#received += n;
      onChunk?.(dst.subarray(off, off + n));
      off += n;
    }
  }

  /** Makes `n` bytes available from `#start`; false at a clean end of stream. */
  async #fill(n: number, atFrameStart: boolean): Promise<boolean> {
    if (this.#end - this.#start >= n) return true;
    if (this.#buf.length - this.#start < n) {
      // Room for the frame at the front of the buffer, growing it (up to the
      // frame limit checked by the caller) only for a frame that needs it.
      if (this.#buf.length >= n) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const next = new Uint8Array(Math.max(n, this.#buf.length * 2));
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
      }
      this.#end -= this.#start;
      this.#start = 0;
    }
    while (this.#end - this.#start < n) {
      const got = await this.#stream.read(this.#buf.subarray(this.#end));
      if (got === null) {
        if (atFrameStart && this.#end === this.#start) return false;
        throw new UnavailableError(
          `Connection closed mid-frame: ${this.#end - this.#start} of ${n} bytes received`,
        );
      }
      this.#end += got;
      this.#received += got;
    }
    return true;
  }
}

/** Writes every byte of `bytes`. */
export async function writeAll(stream: ByteStream, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await stream.write(bytes.subarray(off));
}

/**
 * Writes a frame, then its payload when given: small payloads leave in the
 * same write as their frame, large ones from the caller's buffer without a
 * copy.
 */
export async function writeFrame(
  stream: ByteStream,
  frame: Frame,
  payload?: Uint8Array,
): Promise<void> {
  const head = frames.encode(frame);
  if (payload === undefined || payload.length === 0) return await writeAll(stream, head);
  if (payload.length <= COALESCE_BYTES) {
    const one = new Uint8Array(head.length + payload.length);
    one.set(head);
    one.set(payload, head.length);
    return await writeAll(stream, one);
  }
  await writeAll(stream, head);
  await writeAll(stream, payload);
}
