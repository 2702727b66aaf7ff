/**
 * The one place where errors become HTTP responses:
 * `{ "error": { "code": ..., "message": ..., "fields": ... } }` with the
 * status of its code (`fields` when the error carries data).
 *
 * @module
 */

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { errorBody, type ErrorCode } from "../errors.ts";
import { reply } from "./negotiate.ts";

/** The codes the HTTP API answers: all but the command line's `invalid_config`. */
export type HttpErrorCode = Exclude<ErrorCode, "invalid_config">;

/**
 * HTTP status of each error code. `checksum_mismatch` is a 500: no client
 * sends a checksum, so stored or transferred bytes that do not match theirs
 * are the service's fault, never the request's (an attach turns them into a
 * lost copy, 410 `gone`, before they could reach a caller).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { STATUS_OF_CODE } from "./errors.ts";
 * assert.equal(STATUS_OF_CODE.gone, 410);
 * ```
 */
export const STATUS_OF_CODE: Readonly<Record<HttpErrorCode, ContentfulStatusCode>> = {
  busy: 503,
  checksum_mismatch: 500,
  conflict: 409,
  function_failed: 422,
  gone: 410,
  insufficient_storage: 507,
  internal: 500,
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
 * The HTTP status of an error code (500 for the command line's
 * `invalid_config`, which the API never answers).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusOf } from "./errors.ts";
 * assert.equal(statusOf("not_found"), 404);
 * ```
 */
export function statusOf(code: ErrorCode): ContentfulStatusCode {
  return code === "invalid_config" ? 500 : STATUS_OF_CODE[code];
}

/**
 * Turns any thrown value into the API's error response, in msgpack when the
 * request accepts msgpack, JSON otherwise. Unknown errors are 500 `internal`
 * with their message, so a caller never gets an empty body. The receiving
 * side rebuilds the class with `errorFromBody()` of `src/errors.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { errorResponse } from "./errors.ts";
 * import { NotFoundError } from "../errors.ts";
 * const app = new Hono().get("/", () => {
 *   throw new NotFoundError("Unknown dataset: 'x'", { fields: { dataset: "x" } });
 * }).onError(errorResponse);
 * const res = await app.request("/");
 * assert.equal(res.status, 404);
 * assert.deepEqual(await res.json(), {
 *   error: { code: "not_found", message: "Unknown dataset: 'x'", fields: { dataset: "x" } },
 * });
 * ```
 */
export function errorResponse(err: Error, c: Context): Response {
  const body = errorBody(err);
  return reply(c, { error: body }, statusOf(body.code));
}
