/**
 * Reading bounded request bodies.
 *
 * @module
 */

import { StrataError } from "../errors.ts";

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
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (declared > limit) tooLarge(declared, limit);
  if (req.body === null) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of req.body) {
    total += chunk.byteLength;
    if (total > limit) tooLarge(total, limit);
    chunks.push(chunk);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

function tooLarge(size: number, limit: number): never {
  throw new StrataError(
    "payload_too_large",
    `Request body too large: limit is ${limit} bytes, received ${size} or more`,
  );
}
