/**
 * The frames of a step stream (`GET .../fragments/:fragment/steps`), read
 * as they arrive: a 4-byte big-endian header length, a JSON header, then
 * the header's `bytes` raw bytes.
 *
 * @module
 */

import { errorFromBody, SizeMismatchError, UnavailableError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { QuietWatch } from "../http/quiet_watch.ts";

/** One version of a step stream. */
export interface Step {
  /** The committed version. */
  readonly version: number;
  /** Versions skipped just before this one (dropped by the queue's policy, or retired). */
  readonly dropped: number;
  /** Layout of `bytes`. */
  readonly layout: FragmentLayout;
  /** The fragment region's bytes, in a buffer of the caller's own. */
  readonly bytes: Uint8Array;
}

/** Most bytes a step frame's header may take. */
const MAX_HEADER_BYTES = 1 << 20;

/**
 * How long a step stream may send nothing before its reader gives up on it
 * (`UnavailableError`): twice the longest gap between the runtime's
 * heartbeats, which it sends after `STEP_HEARTBEAT_MS` (10 s) of silence
 * while a reader waits, checking every 5 s.
 */
export const STEP_SILENCE_MS = 30_000;

/** Options of `readSteps`. */
export interface ReadStepsOptions {
  /** Longest silence, ms (default `STEP_SILENCE_MS`). */
  readonly silenceMs?: number;
  /** How errors name the sender, e.g. `Runtime http://127.0.0.1:7070`. */
  readonly peer?: string;
}

/**
 * Reads step frames from `body` until its last frame: returns on a
 * `timeout` frame (no version came within the stream's wait), throws the
 * error any other last frame names, and throws when the body ends without
 * one (the runtime went away) or sends nothing for `silenceMs` (not even a
 * heartbeat frame, which it skips: the runtime is stopped or cut off), or
 * a `SizeMismatchError` when a frame's bytes are not its layout's size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSteps } from "./steps.ts";
 * const frame = (h: unknown, bytes = new Uint8Array()) => {
 *   const json = new TextEncoder().encode(JSON.stringify(h));
 *   const out = new Uint8Array(4 + json.byteLength + bytes.byteLength);
 *   new DataView(out.buffer).setUint32(0, json.byteLength);
 *   out.set(json, 4);
 *   out.set(bytes, 4 + json.byteLength);
 *   return out;
 * };
 * const layout = { byteLength: 2, slots: [] };
 * const body = new Blob([
 *   frame({ heartbeat: true }),
 *   frame({ version: 3, dropped: 0, layout, bytes: 2 }, new Uint8Array([7, 8])),
 *   frame({ error: { code: "timeout", message: "Timed out" } }),
 * ]).stream();
 * const got = [];
 * for await (const step of readSteps(body)) got.push([step.version, [...step.bytes]]);
 * assert.deepEqual(got, [[3, [7, 8]]]);
 * ```
 */
export async function* readSteps(
  body: ReadableStream<Uint8Array>,
  options: ReadStepsOptions = {},
): AsyncGenerator<Step, void, undefined> {
  const reader = body.getReader();
  const silenceMs = options.silenceMs ?? STEP_SILENCE_MS;
  const peer = options.peer ?? "The runtime";
  // A read waiting past `silenceMs` cancels the body, and fails with `silent`.
  let silent: UnavailableError | undefined;
  const watch = new QuietWatch(silenceMs, () => {
    silent ??= new UnavailableError(
      `${peer} sent nothing on the step stream for ${silenceMs} ms (not even a heartbeat): it may be stopped or cut off`,
      { fields: { silenceMs } },
    );
    reader.cancel(silent).catch(() => {});
  });
  /** The next chunk, or `silent` once a read waited `silenceMs`. */
  const read = async () => {
    watch.waiting();
    try {
      const got = await reader.read();
      if (silent !== undefined) throw silent;
      return got;
    } finally {
      watch.done();
    }
  };
  const chunks: Uint8Array[] = [];
  /**
   * Exactly `n` bytes from the body, in a buffer of their own (aligned, so
   * typed arrays over a step's bytes work); undefined at its end.
   */
  const take = async (n: number): Promise<Uint8Array | undefined> => {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      if (chunks.length === 0) {
        const { value, done } = await read();
        if (done) {
          if (at === 0) return undefined;
          throw broken(`after ${at} of ${n} bytes of a frame`);
        }
        chunks.push(value);
        continue;
      }
      const head = chunks[0]!;
      const k = Math.min(head.byteLength, n - at);
      out.set(head.subarray(0, k), at);
      at += k;
      if (k === head.byteLength) chunks.shift();
      else chunks[0] = head.subarray(k);
    }
    return out;
  };
  try {
    for (;;) {
      const prefix = await take(4);
      if (prefix === undefined) throw broken("without its last frame");
      const length = new DataView(prefix.buffer).getUint32(0);
      if (length > MAX_HEADER_BYTES) {
        throw broken(`with a frame header of ${length} bytes`);
      }
      const text = await take(length);
      if (text === undefined) throw broken("in a frame header");
      const json = new TextDecoder().decode(text);
      const header = JSON.parse(json) as {
        version?: number;
        dropped?: number;
        layout?: FragmentLayout;
        bytes?: number;
        error?: unknown;
        heartbeat?: boolean;
      };
      // Sent while the runtime waits for the next version: the stream is alive.
      if (header.heartbeat === true) continue;
      if (header.error !== undefined) {
        const e = errorFromBody(header.error) ??
          new UnavailableError(`The step stream ended with an error: ${json.slice(0, 200)}`);
        if (e.code === "timeout") return;
        throw e;
      }
      const size = header.bytes ?? 0;
      const expected = header.layout?.byteLength;
      if (expected !== undefined && size !== expected) {
        // The rest of the stream cannot be trusted to be framed as it says.
        throw new SizeMismatchError("", expected, size, {
          message:
            `The step stream sent version ${header.version} as ${size} bytes: its layout holds ${expected}`,
        });
      }
      const bytes = size === 0 ? new Uint8Array() : await take(size);
      if (bytes === undefined) throw broken(`in the bytes of version ${header.version}`);
      yield {
        version: header.version!,
        dropped: header.dropped ?? 0,
        layout: header.layout!,
        bytes,
      };
    }
  } finally {
    watch.close();
    await reader.cancel().catch(() => {});
  }
}

function broken(where: string): UnavailableError {
  return new UnavailableError(`The step stream broke off ${where}`);
}
