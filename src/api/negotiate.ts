/**
 * Content negotiation for control bodies: JSON or msgpack both ways.
 *
 * @module
 */

import { decode } from "@msgpack/msgpack";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { InvalidRequestError, UnsupportedMediaTypeError } from "../errors.ts";
import { readBoundedBytes } from "./body.ts";
import { msgpackBody } from "../http/msgpack_body.ts";

/** One decoder for every body (decoding without `stream` keeps no state). */
const utf8 = new TextDecoder();

/** The media type of msgpack bodies. */
export const MSGPACK = "application/msgpack";

/**
 * Reads a control body (JSON or msgpack, by its content type) up to `limit`
 * bytes. Any other content type is a 415.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readControlBody } from "./negotiate.ts";
 * const req = new Request("http://x/", { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
 * assert.deepEqual(await readControlBody(req, 1024), { a: 1 });
 * ```
 */
export async function readControlBody(req: Request, limit: number): Promise<unknown> {
  const type = mediaType(req.headers.get("content-type"));
  if (type !== "application/json" && type !== MSGPACK) {
    throw new UnsupportedMediaTypeError(
      `Unsupported content type: expected application/json or ${MSGPACK}, found '${
        type || "none"
      }'`,
    );
  }
  const bytes = await readBoundedBytes(req, limit);
  try {
    return type === MSGPACK ? decode(bytes) : JSON.parse(utf8.decode(bytes));
  } catch (e) {
    throw new InvalidRequestError(`Invalid ${type} body: ${(e as Error).message}`);
  }
}

/**
 * Answers with `data` as msgpack when the request accepts it, JSON otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { reply } from "./negotiate.ts";
 * const app = new Hono().get("/", (c) => reply(c, { ok: true }));
 * const res = await app.request("/", { headers: { accept: "application/msgpack" } });
 * assert.equal(res.headers.get("content-type"), "application/msgpack");
 * ```
 */
export function reply(c: Context, data: unknown, status: ContentfulStatusCode = 200): Response {
  const accept = c.req.header("accept") ?? "";
  if (accept.includes(MSGPACK)) {
    return c.body(msgpackBody(data, { ignoreUndefined: true }), status, {
      "content-type": MSGPACK,
    });
  }
  return c.json(data as object, status);
}

/** The media type of a content-type header, lower-cased, without parameters. */
export function mediaType(header: string | null | undefined): string {
  return (header ?? "").split(";")[0]!.trim().toLowerCase();
}
