/**
 * The codes of Strata's errors, the data they carry (`fields`) and their base
 * class `StrataError`.
 *
 * @module
 */

/** One value of an error's `fields`: plain data that JSON and msgpack carry. */
export type FieldValue =
  | string
  | number
  | boolean
  | null
  | readonly FieldValue[]
  | { readonly [key: string]: FieldValue };

/** The data of an error, by name (dataset, version, fragment, node, limit...). */
export type ErrorFields = { readonly [key: string]: FieldValue };

/**
 * Every code of Strata's errors. The HTTP API maps each to a status
 * (`src/api/errors.ts`); `invalid_config` is the command line's own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ERROR_CODES } from "../errors.ts";
 * assert.ok(ERROR_CODES.includes("gone"));
 * ```
 */
export const ERROR_CODES = [
  "busy",
  "checksum_mismatch",
  "conflict",
  "function_failed",
  "gone",
  "insufficient_storage",
  "internal",
  "invalid_config",
  "invalid_description",
  "invalid_function",
  "invalid_layout",
  "invalid_request",
  "limit_exceeded",
  "missing_region",
  "not_committed",
  "not_found",
  "not_here",
  "payload_too_large",
  "size_mismatch",
  "timeout",
  "unauthorized",
  "unavailable",
  "unsupported_media_type",
  "wire_protocol",
] as const;

/**
 * A code of Strata's errors, such as `gone` or `invalid_description`.
 *
 * @example
 * ```ts
 * import type { ErrorCode } from "../errors.ts";
 * const code: ErrorCode = "not_found";
 * ```
 */
export type ErrorCode = typeof ERROR_CODES[number];

/**
 * Whether `code` is one of Strata's error codes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isErrorCode } from "../errors.ts";
 * assert.ok(isErrorCode("gone"));
 * assert.ok(!isErrorCode("teapot"));
 * ```
 */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && (ERROR_CODES as readonly string[]).includes(code);
}

/** Options of Strata's errors. */
export interface StrataErrorOptions extends ErrorOptions {
  /**
   * The message, when not the one the class makes from its data: an error
   * rebuilt from another process keeps the message it was sent with.
   */
  readonly message?: string;
  /** Data of an error whose class takes no data of its own (a `NotFoundError`'s dataset). */
  readonly fields?: ErrorFields;
}

/**
 * Base class of Strata's own errors: a code, a message, and the error's data
 * as `fields`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StrataError } from "../errors.ts";
 * const e = new StrataError("not_found", "Unknown dataset: 'particles'", { fields: { dataset: "particles" } });
 * assert.equal(e.code, "not_found");
 * assert.equal(e.fields.dataset, "particles");
 * ```
 */
export class StrataError extends Error {
  /** Stable machine-readable code, such as `invalid_description`. */
  readonly code: ErrorCode;
  /** The error's data, sent with its code and message when it crosses a process. */
  readonly fields: ErrorFields;

  /** Creates an error with a code, a message, and optionally a cause and fields. */
  constructor(code: ErrorCode, message: string, options: StrataErrorOptions = {}) {
    super(options.message ?? message, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.fields = options.fields ?? {};
    this.name = new.target.name;
  }
}
