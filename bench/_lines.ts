/**
 * Lines of a byte stream, one at a time: how benchmark processes talk
 * (a `ready` line, a `go` line, a JSON result).
 *
 * @module
 */

/**
 * Reads `stream` a line at a time (without its newline); undefined at its end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lineReader } from "./_lines.ts";
 * const next = lineReader(new Blob(["ready\n{\"n\":1}"]).stream());
 * assert.equal(await next(), "ready");
 * assert.equal(await next(), '{"n":1}');
 * assert.equal(await next(), undefined);
 * ```
 */
export function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string | undefined> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  return async () => {
    while (!pending.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) {
        const last = pending;
        pending = "";
        return last === "" ? undefined : last;
      }
      pending += value;
    }
    const at = pending.indexOf("\n");
    const line = pending.slice(0, at);
    pending = pending.slice(at + 1);
    return line;
  };
}
