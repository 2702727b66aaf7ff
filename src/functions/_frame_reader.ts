/**
 * Reads frames (frames.ts) from a byte stream: small frames from a scratch
 * buffer, a large payload read straight into its own buffer, with no copy
 * on the way. Lengths past the caller's bounds stop the read before any
 * byte of the frame's body is taken.
 *
 * @module
 */

import { PREFIX_BYTES, readPrefix } from "./frames.ts";

/** A frame as read: its header text and its payload. */
export interface RawFrame {
  /** The header, as UTF-8 JSON text. */
  readonly header: string;
  /** The payload bytes, in a buffer of their own. */
  readonly payload: Uint8Array;
}

/** A frame whose lengths are over the reader's bounds. */
export class OversizedFrame extends Error {
  /** The header's length. */
  readonly headerBytes: number;
  /** The payload's length. */
  readonly payloadBytes: number;

  /** Creates the error for the lengths read. */
  constructor(headerBytes: number, payloadBytes: number) {
    super(`a frame of ${headerBytes} header and ${payloadBytes} payload bytes`);
    this.headerBytes = headerBytes;
    this.payloadBytes = payloadBytes;
  }
}

const SCRATCH_BYTES = 64 * 1024;

/**
 * Frames from `stream`, one `next()` at a time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameReader } from "./_frame_reader.ts";
 * import { encodeHead } from "./frames.ts";
 * const head = encodeHead({ t: "x" }, 3);
 * const stream = new Blob([head, new Uint8Array([1, 2, 3])]).stream();
 * const reader = FrameReader.fromStream(stream);
 * const frame = await reader.next(1024, 1024);
 * assert.equal(frame?.header, '{"t":"x"}');
 * assert.deepEqual([...frame!.payload], [1, 2, 3]);
 * assert.equal(await reader.next(1024, 1024), null);
 * ```
 */
export class FrameReader {
  #source: ByteSource;
  #buf = new Uint8Array(SCRATCH_BYTES);
  #start = 0;
  #end = 0;
  #done = false;

  /**
   * Reads with `read`, which fills the start of `into` and answers how many
   * bytes it put there, or null at the end: `Deno.stdin.read`, say, which
   * costs less per call than a stream.
   */
  constructor(read: (into: Uint8Array) => Promise<number | null>) {
    this.#source = {
      read: async (into) => {
        const n = await read(into);
        return n === null ? null : { n, buffer: into.buffer as ArrayBuffer };
      },
      cancel: () => {},
    };
  }

  /** Reads from `stream`, a byte stream (a process's standard output), into its own buffers. */
  static fromStream(stream: ReadableStream<Uint8Array>): FrameReader {
    const reader = stream.getReader({ mode: "byob" });
    const frames = new FrameReader(() => Promise.resolve(null));
    frames.#source = {
      // A BYOB read hands the memory back in a new buffer (the old one is
      // detached): the caller takes it from here.
      read: async (into) => {
        const { value, done } = await reader.read(into);
        if (value === undefined) return null;
        if (done && value.byteLength === 0) {
          return { n: 0, buffer: value.buffer as ArrayBuffer, end: true };
        }
        return { n: value.byteLength, buffer: value.buffer as ArrayBuffer, end: done };
      },
      cancel: () => void reader.cancel().catch(() => {}),
    };
    return frames;
  }

  /**
   * The next frame, or null at the end of the stream. Throws
   * `OversizedFrame` when its header or payload is over the given bounds,
   * and `Error` when the stream ends inside a frame.
   */
  async next(maxHeader: number, maxPayload: number): Promise<RawFrame | null> {
    if (!await this.#want(PREFIX_BYTES)) {
      if (this.#end > this.#start) throw new Error("the stream ended inside a frame");
      return null;
    }
    const { headerBytes, payloadBytes } = readPrefix(this.#buf.subarray(this.#start));
    if (headerBytes > maxHeader || payloadBytes > maxPayload) {
      throw new OversizedFrame(headerBytes, payloadBytes);
    }
    this.#start += PREFIX_BYTES;
    const head = await this.#take(new Uint8Array(headerBytes));
    const payload = await this.#take(new Uint8Array(payloadBytes));
    return { header: decoder.decode(head), payload };
  }

  /** Stops reading. */
  cancel(): void {
    this.#source.cancel();
  }

  /** Whether `n` bytes are in the scratch buffer, reading more as needed. */
  async #want(n: number): Promise<boolean> {
    while (this.#end - this.#start < n) {
      if (this.#done) return false;
      if (this.#buf.length - this.#start < n) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const got = await this.#source.read(this.#buf.subarray(this.#end));
      if (got === null) {
        this.#buf = new Uint8Array(SCRATCH_BYTES);
        this.#start = this.#end = 0;
        this.#done = true;
        return false;
      }
      this.#buf = new Uint8Array(got.buffer);
      this.#end += got.n;
      if (got.end === true) this.#done = true;
    }
    return true;
  }

  /** Fills `into`: first from the scratch buffer, then straight from the source. */
  async #take(into: Uint8Array): Promise<Uint8Array> {
    const buffered = Math.min(into.length, this.#end - this.#start);
    into.set(this.#buf.subarray(this.#start, this.#start + buffered));
    this.#start += buffered;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    let at = buffered;
    while (at < into.length) {
      if (this.#done) throw new Error("the stream ended inside a frame");
      const got = await this.#source.read(into.subarray(at));
      if (got === null) throw new Error("the stream ended inside a frame");
      into = new Uint8Array(got.buffer);
      at += got.n;
      if (got.end === true) this.#done = true;
    }
    return into;
  }
}

interface ByteSource {
  /** Fills the start of `into`; answers the count and the buffer now holding `into`'s memory. */
  read(into: Uint8Array): Promise<{ n: number; buffer: ArrayBuffer; end?: boolean } | null>;
  cancel(): void;
}

const decoder = new TextDecoder();
