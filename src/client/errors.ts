/**
 * Errors the client raises: the server's `{error: {code, message}}` as a named
 * class carrying the code and HTTP status.
 *
 * @module
 */

import { StrataError } from "../errors.ts";

/**
 * An error answer from a Strata server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerError } from "./errors.ts";
 * const e = new ServerError(404, "not_found", "Unknown dataset 'x'");
 * assert.equal(e.status, 404);
 * assert.equal(e.code, "not_found");
 * ```
 */
export class ServerError extends StrataError {
  /** HTTP status of the answer. */
  readonly status: number;

  /** Creates the error from the server's status, code and message. */
  constructor(status: number, code: string, message: string) {
    super(code, message);
    this.status = status;
  }
}
