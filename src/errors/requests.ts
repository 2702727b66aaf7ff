/**
 * Errors of requests and processes: a malformed or refused request, a node
 * or process that cannot serve it, a broken data plane, a bad config.
 *
 * @module
 */

import { StrataError, type StrataErrorOptions } from "./base.ts";

/**
 * A request whose fields are malformed (HTTP 400): an invalid name, a
 * version that is not a positive integer, a missing field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidRequestError } from "../errors.ts";
 * const e = new InvalidRequestError("Invalid version 0: expected an integer >= 1");
 * assert.equal(e.code, "invalid_request");
 * ```
 */
export class InvalidRequestError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("invalid_request", message, options);
  }
}

/**
 * A node that holds needed bytes does not answer, or is too busy to queue
 * another request, or a service is closing (HTTP 503): retry later; nothing
 * is lost yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnavailableError } from "../errors.ts";
 * const e = new UnavailableError("Node 'a' does not answer at 127.0.0.1:7071: connection refused");
 * assert.equal(e.code, "unavailable");
 * ```
 */
export class UnavailableError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("unavailable", message, options);
  }
}

/**
 * An operation on a service that is closed or closing (HTTP 503,
 * `unavailable`): writes still queued when it closed fail with this error
 * and are not applied. In another process it arrives as an
 * `UnavailableError` with the same fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClosedError, UnavailableError } from "../errors.ts";
 * const e = new ClosedError("registry");
 * assert.ok(e instanceof UnavailableError);
 * assert.equal(e.message, "The registry is closed: nothing was written");
 * assert.deepEqual(e.fields, { closed: "registry", detail: "nothing was written" });
 * ```
 */
export class ClosedError extends UnavailableError {
  /** Creates the error naming what is closed. */
  constructor(what: string, detail = "nothing was written", options: StrataErrorOptions = {}) {
    super(`The ${what} is closed: ${detail}`, { ...options, fields: { closed: what, detail } });
  }
}

/**
 * A peer on the data plane sent bytes that are not a valid frame, or a
 * frame out of turn (HTTP 502): the connection is closed, nothing is served.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WireProtocolError } from "../errors.ts";
 * assert.equal(new WireProtocolError("Frame too large: 2 MiB").code, "wire_protocol");
 * ```
 */
export class WireProtocolError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("wire_protocol", message, options);
  }
}

/**
 * A bound is reached (HTTP 503): requests in flight, version waits, release
 * polls, calls waiting for a function's sandboxes. Try again later. Queues
 * are bounded so a slow caller cannot hold unbounded memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BusyError } from "../errors.ts";
 * assert.equal(new BusyError("Function 'h' has 1024 calls waiting").code, "busy");
 * ```
 */
export class BusyError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("busy", message, options);
  }
}

/**
 * A mutating request without the configured bearer token (HTTP 401), or a
 * data plane peer without the cluster token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnauthorizedError } from "../errors.ts";
 * assert.equal(new UnauthorizedError("Missing or wrong bearer token").code, "unauthorized");
 * ```
 */
export class UnauthorizedError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("unauthorized", message, options);
  }
}

/**
 * A request body past its limit (HTTP 413): nothing of it is kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PayloadTooLargeError } from "../errors.ts";
 * const e = new PayloadTooLargeError("Request body too large", { fields: { limit: 1024 } });
 * assert.equal(e.code, "payload_too_large");
 * assert.equal(e.fields.limit, 1024);
 * ```
 */
export class PayloadTooLargeError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("payload_too_large", message, options);
  }
}

/**
 * A content type the route does not take (HTTP 415).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnsupportedMediaTypeError } from "../errors.ts";
 * assert.equal(new UnsupportedMediaTypeError("Unsupported content type").code, "unsupported_media_type");
 * ```
 */
export class UnsupportedMediaTypeError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("unsupported_media_type", message, options);
  }
}

/**
 * A process asked for what another kind of process does (HTTP 421): a run
 * on a process that holds no data.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotHereError } from "../errors.ts";
 * assert.equal(new NotHereError("This runtime cannot publish the outputs of runs").code, "not_here");
 * ```
 */
export class NotHereError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("not_here", message, options);
  }
}

/**
 * A configuration (file, flags, tiers, placement policy) that does not load:
 * the command line's error; the HTTP API never answers it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidConfigError } from "../errors.ts";
 * assert.equal(new InvalidConfigError("No config file: strata.yaml").code, "invalid_config");
 * ```
 */
export class InvalidConfigError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("invalid_config", message, options);
  }
}

/**
 * An error Strata did not expect (HTTP 500): a bug. Its message says what
 * was thrown. An error answered with a code this version does not know is
 * one too, with that code in `fields.code`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InternalError } from "../errors.ts";
 * assert.equal(new InternalError("Disk full").code, "internal");
 * ```
 */
export class InternalError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("internal", message, options);
  }
}
