/**
 * The one place where errors become HTTP responses:
 * `{ "error": { "code": ..., "message": ... } }` with the status of its code.
 *
 * @module
 */

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { StrataError } from "../errors.ts";
import { reply } from "./negotiate.ts";

/** HTTP status of each error code. */
export const STATUS_OF_CODE: Readonly<Record<string, ContentfulStatusCode>> = {
  busy: 503,
  checksum_mismatch: 500,
  conflict: 409,
  function_failed: 422,
  gone: 410,
  insufficient_storage: 507,
  invalid_description: 400,
  invalid_function: 400,
  invalid_layout: 400,
  invalid_request: 400,
  limit_exceeded: 422,
  missing_region: 409,
  not_committed: 409,
  not_found: 404,
  not_here: 421,
  payload_too_large: 413,
  size_mismatch: 400,
  timeout: 408,
  unauthorized: 401,
  unavailable: 503,
  unsupported_media_type: 415,
  wire_protocol: 502,
};

/**
 * Turns any thrown value into the API's error response, in msgpack when the
 * request accepts msgpack, JSON otherwise. Unknown errors are 500 `internal`
 * with their message, so a caller never gets an empty body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { errorResponse } from "./errors.ts";
 * import { StrataError } from "../errors.ts";
import { reply } from "./negotiate.ts";
 * const app = new Hono().get("/", () => {
 *   throw new StrataError("not_found", "Unknown dataset: 'x'");
 * }).onError(errorResponse);
 * const res = await app.request("/");
 * assert.equal(res.status, 404);
 * assert.deepEqual(await res.json(), { error: { code: "not_found", message: "Unknown dataset: 'x'" } });
 * ```
 */
export function errorResponse(err: Error, c: Context): Response {
  if (err instanceof StrataError) {
    const status = STATUS_OF_CODE[err.code] ?? 500;
    return reply(c, { error: { code: err.code, message: err.message } }, status);
  }
  return reply(c, { error: { code: "internal", message: err.message } }, 500);
}
