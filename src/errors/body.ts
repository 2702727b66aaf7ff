/**
 * Errors as they cross a process: `errorBody()` turns one into its code,
 * message and fields, and `errorFromCode()` / `errorFromBody()` rebuild the
 * class of the code on the other side.
 *
 * @module
 */

import {
  type ErrorCode,
  type ErrorFields,
  type FieldValue,
  isErrorCode,
  StrataError,
  type StrataErrorOptions,
} from "./base.ts";
import { DescriptionError, LayoutError, MissingRegionError } from "./description.ts";
import { ChecksumError, LostError, NodeFullError } from "./copies.ts";
import {
  ConflictError,
  NotCommittedError,
  NotFoundError,
  SizeMismatchError,
  WaitTimeoutError,
} from "./versions.ts";
import {
  BusyError,
  InternalError,
  InvalidConfigError,
  InvalidRequestError,
  NotHereError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  WireProtocolError,
} from "./requests.ts";
import { FunctionFailedError, InvalidFunctionError, LimitExceededError } from "./functions.ts";

/** An error as it crosses a process: in HTTP bodies, control calls and data plane frames. */
export interface ErrorBody {
  /** The error's code. */
  readonly code: ErrorCode;
  /** Its message. */
  readonly message: string;
  /** Its data, when it has any. */
  readonly fields?: ErrorFields;
}

/** System error codes of a full disk: the node's storage, not a fault of the service's. */
const DISK_FULL = new Set(["ENOSPC", "EDQUOT"]);

/**
 * The body an error crosses a process as: its code, message and fields
 * (`fields` left out when empty). A system error saying the disk is full is
 * `insufficient_storage` (507); anything else that is not a `StrataError`
 * is `internal` with its message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorBody, NotCommittedError } from "../errors.ts";
 * assert.deepEqual(errorBody(new NotCommittedError("grid", 2)), {
 *   code: "not_committed",
 *   message: "Version 2 of 'grid' is not committed: attach with wait to wait for it",
 *   fields: { dataset: "grid", version: 2 },
 * });
 * assert.deepEqual(errorBody(new Error("Oops")), { code: "internal", message: "Oops" });
 * const full = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
 * assert.equal(errorBody(full).code, "insufficient_storage");
 * ```
 */
export function errorBody(e: unknown): ErrorBody {
  if (!(e instanceof StrataError)) {
    const message = e instanceof Error ? e.message : String(e);
    if (DISK_FULL.has((e as { code?: unknown } | null)?.code as string)) {
      return {
        code: "insufficient_storage",
        message:
          `${message}: the disk under this node's data is full or over its quota; free space or lower the capacities of the tiers on it, then send again (nothing of this request was kept)`,
        fields: { detail: message },
      };
    }
    return { code: "internal", message };
  }
  return Object.keys(e.fields).length === 0
    ? { code: e.code, message: e.message }
    : { code: e.code, message: e.message, fields: e.fields };
}

/**
 * Rebuilds the error another process sent as its code, message and fields:
 * the class of the code, with the same fields and message. A code this
 * version does not know is an `InternalError` naming it in `fields.code`.
 * Fields of the wrong type (a peer of another version) read as empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorBody, errorFromCode, LostError } from "../errors.ts";
 * const sent = new LostError("particles", 3, "viz", undefined, { node: "a" });
 * const { code, message, fields } = errorBody(sent);
 * const got = errorFromCode(code, message, fields);
 * assert.ok(got instanceof LostError);
 * assert.equal(got.node, "a");
 * assert.deepEqual(got.fields, sent.fields);
 * assert.equal(got.message, sent.message);
 * ```
 */
export function errorFromCode(
  code: string,
  message: string,
  fields: unknown = {},
  options: ErrorOptions = {},
): StrataError {
  const f: ErrorFields = typeof fields === "object" && fields !== null && !Array.isArray(fields)
    ? fields as ErrorFields
    : {};
  const o: StrataErrorOptions = { ...options, message };
  if (!isErrorCode(code)) return new InternalError(message, { ...o, fields: { ...f, code } });
  return REBUILD[code](f, o);
}

/**
 * Reads an error body (`{code, message, fields}`, the value of an HTTP
 * answer's `error`) into its class; `undefined` when `body` is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorFromBody, NotFoundError } from "../errors.ts";
 * assert.ok(errorFromBody({ code: "not_found", message: "Unknown dataset 'x'" }) instanceof NotFoundError);
 * assert.equal(errorFromBody("teapot"), undefined);
 * ```
 */
export function errorFromBody(body: unknown, options: ErrorOptions = {}): StrataError | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { code, message, fields } = body as Record<string, unknown>;
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  return errorFromCode(code, message, fields, options);
}

/** Builds the class of each code from the fields another process sent. */
const REBUILD: {
  readonly [C in ErrorCode]: (f: ErrorFields, o: StrataErrorOptions) => StrataError;
} = {
  busy: (f, o) => new BusyError("", { ...o, fields: f }),
  checksum_mismatch: (f, o) => new ChecksumError(str(f.key), num(f.expected), num(f.found), o),
  conflict: (f, o) => new ConflictError("", { ...o, fields: f }),
  function_failed: (f, o) =>
    new FunctionFailedError(str(f.function), num(f.version), str(f.detail), o),
  gone: (f, o) =>
    new LostError(str(f.dataset), num(f.version), str(f.fragment), str(f.detail), {
      ...o,
      ...(typeof f.node === "string" ? { node: f.node } : {}),
    }),
  insufficient_storage: (f, o) =>
    new NodeFullError(str(f.node), {
      what: str(f.what),
      byteLength: num(f.byteLength),
      tiers: list(f.tiers).map((t) => {
        const u = record(t);
        return { name: str(u.name), capacity: num(u.capacity), used: num(u.used) };
      }),
      ...(typeof f.detail === "string" ? { detail: f.detail } : {}),
    }, o),
  internal: (f, o) => new InternalError("", { ...o, fields: f }),
  invalid_config: (f, o) => new InvalidConfigError("", { ...o, fields: f }),
  invalid_description: (f, o) =>
    new DescriptionError(str(f.detail), { line: num(f.line), col: num(f.col) }, str(f.source), o),
  invalid_function: (f, o) =>
    new InvalidFunctionError(
      str(f.function),
      f.stage === "type-check" || f.stage === "dry-run" ? f.stage : "declaration",
      str(f.detail),
      o,
    ),
  invalid_layout: (f, o) => new LayoutError("", { ...o, fields: f }),
  invalid_request: (f, o) => new InvalidRequestError("", { ...o, fields: f }),
  limit_exceeded: (f, o) =>
    new LimitExceededError(
      str(f.function),
      num(f.version),
      f.limit === "memory" || f.limit === "output" ? f.limit : "time",
      str(f.detail),
      o,
    ),
  missing_region: (f, o) =>
    new MissingRegionError(
      str(f.variable),
      str(f.field),
      list(f.missing).map((b) => {
        const box = record(b);
        return { start: list(box.start).map(num), count: list(box.count).map(num) };
      }),
      o,
    ),
  not_committed: (f, o) => new NotCommittedError(str(f.dataset), num(f.version), o),
  not_found: (f, o) => new NotFoundError("", { ...o, fields: f }),
  not_here: (f, o) => new NotHereError("", { ...o, fields: f }),
  payload_too_large: (f, o) => new PayloadTooLargeError("", { ...o, fields: f }),
  size_mismatch: (f, o) =>
    new SizeMismatchError(
      str(f.fragment),
      num(f.expected),
      typeof f.received === "string" ? f.received : num(f.received),
      o,
    ),
  timeout: (f, o) => new WaitTimeoutError(str(f.dataset), num(f.version), num(f.ms), o),
  unauthorized: (f, o) => new UnauthorizedError("", { ...o, fields: f }),
  unavailable: (f, o) => new UnavailableError("", { ...o, fields: f }),
  unsupported_media_type: (f, o) => new UnsupportedMediaTypeError("", { ...o, fields: f }),
  wire_protocol: (f, o) => new WireProtocolError("", { ...o, fields: f }),
};

function str(v: FieldValue | undefined): string {
  return typeof v === "string" ? v : "";
}

function num(v: FieldValue | undefined): number {
  return typeof v === "number" ? v : 0;
}

function list(v: FieldValue | undefined): readonly FieldValue[] {
  return Array.isArray(v) ? v : [];
}

function record(v: FieldValue | undefined): ErrorFields {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? v as ErrorFields : {};
}
