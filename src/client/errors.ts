/**
 * Errors the client raises: the server's `{error: {code, message, fields}}`
 * rebuilt as the class the server threw (`errorFromBody()` of
 * src/errors.ts), with the HTTP status of the answer.
 *
 * @module
 */

import {
  errorFromBody,
  InternalError,
  SizeMismatchError,
  StrataError,
  UnavailableError,
} from "../errors.ts";
import { errorBodyOf } from "../http/call.ts";

/**
 * An error answer from a Strata server. Every error the client rebuilds
 * from an answer is one: an instance of its code's class (`NotFoundError`,
 * `LostError`, ...) with the server's message and fields, and the answer's
 * HTTP `status`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorOfAnswer, ServerError } from "./errors.ts";
 * import { LostError } from "../errors.ts";
 * const e = errorOfAnswer(410, JSON.stringify({
 *   error: {
 *     code: "gone",
 *     message: "Version 3 of 'p' is lost: fragment 'viz' was held only in memory and is gone",
 *     fields: { dataset: "p", version: 3, fragment: "viz", detail: "was held only in memory and is gone" },
 *   },
 * }));
 * assert.ok(e instanceof ServerError && e instanceof LostError);
 * assert.equal(e.status, 410);
 * assert.equal(e.version, 3);
 * ```
 */
export class ServerError extends StrataError {
  /** HTTP status of the answer. */
  declare readonly status: number;

  /** Creates a plain server error from a status, a code and a message. */
  constructor(status: number, code: StrataError["code"], message: string) {
    super(code, message);
    answered(this, status);
  }

  /** Whether `value` is an error a server answered, whatever its class. */
  static override [Symbol.hasInstance](value: unknown): value is ServerError {
    return value instanceof StrataError && Object.hasOwn(value, STATUS);
  }
}

/** The property that marks an error as a server's answer. */
const STATUS = "status";

/** Gives `e` the status of the answer it came in. */
function answered<E extends StrataError>(e: E, status: number): E & { readonly status: number } {
  Object.defineProperty(e, STATUS, { value: status, enumerable: false });
  return e as E & { readonly status: number };
}

/**
 * The error of a server's answer with `status` and body `text`: the class
 * the server threw, with its fields; an answer that is not a Strata error
 * body (a proxy's page) is `UnavailableError` for 502, 503 and 504,
 * `InternalError` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorOfAnswer } from "./errors.ts";
 * import { UnavailableError } from "../errors.ts";
 * const e = errorOfAnswer(503, "<html>Service Unavailable</html>");
 * assert.ok(e instanceof UnavailableError);
 * assert.equal(e.status, 503);
 * ```
 */
export function errorOfAnswer(status: number, text: string): ServerError {
  const message = `HTTP ${status}: ${text.slice(0, 200)}`;
  const e = errorFromBody(errorBodyOf(text)) ??
    (status === 502 || status === 503 || status === 504
      ? new UnavailableError(message)
      : new InternalError(message));
  return answered(e, status) as unknown as ServerError;
}

/**
 * Marks an error the client found in a server's answer (a payload of the
 * wrong size) as that answer's, with its status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromAnswer, ServerError } from "./errors.ts";
 * import { SizeMismatchError } from "../errors.ts";
 * const e = fromAnswer(200, new SizeMismatchError("viz", 8, 4));
 * assert.ok(e instanceof ServerError && e instanceof SizeMismatchError);
 * ```
 */
export function fromAnswer<E extends StrataError>(
  status: number,
  e: E,
): E & { readonly status: number } {
  return answered(e, status);
}

/**
 * The `size_mismatch` of a payload answer (an attach, a function's result)
 * whose body is not the size of the layout its `strata-layout` names;
 * undefined when it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { payloadSizeError } from "./errors.ts";
 * assert.equal(payloadSizeError(200, "viz", 16, 16), undefined);
 * assert.equal(payloadSizeError(200, "viz", 16, 12)?.message, "The server sent 12 bytes: expected 16");
 * ```
 */
export function payloadSizeError(
  status: number,
  fragment: string,
  expected: number,
  received: number,
): (SizeMismatchError & { readonly status: number }) | undefined {
  if (received === expected) return undefined;
  return fromAnswer(
    status,
    new SizeMismatchError(fragment, expected, received, {
      message: received > expected
        ? `The server sent more than the ${expected} bytes of the fragment's layout`
        : `The server sent ${received} bytes: expected ${expected}`,
    }),
  );
}
