/**
 * Every error Strata's callers are expected to handle, in one place: one
 * `ErrorCode` per kind of failure, one class per code, and the data each
 * carries (`fields`) besides its message. An error that crosses a process
 * (HTTP answers, the control calls, the data plane) travels as its code,
 * message and fields, and `errorFromCode()` rebuilds the same class on the
 * other side: callers decide by class and fields, never by message text.
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
 * import { ERROR_CODES } from "./errors.ts";
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
 * import type { ErrorCode } from "./errors.ts";
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
 * import { isErrorCode } from "./errors.ts";
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
 * import { StrataError } from "./errors.ts";
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

/** Where in a description an error was found. */
export interface SourcePosition {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly col: number;
}

/**
 * A description in the data language that does not parse or does not check.
 * The message reads `line:col: what was wrong`, followed by the offending
 * line and a caret under the column.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DescriptionError } from "./errors.ts";
 * const e = new DescriptionError("Unknown type 'flaot64'", { line: 2, col: 9 }, "  var x flaot64");
 * assert.ok(e.message.startsWith("2:9: Unknown type 'flaot64'"));
 * assert.deepEqual(e.fields, { detail: "Unknown type 'flaot64'", line: 2, col: 9, source: "  var x flaot64" });
 * ```
 */
export class DescriptionError extends StrataError {
  /** Position of the error in the description. */
  readonly position: SourcePosition;
  /** The message without position and snippet. */
  readonly detail: string;

  /** Creates the error from a detail message, a position and the source line. */
  constructor(
    detail: string,
    position: SourcePosition,
    sourceLine: string,
    options: StrataErrorOptions = {},
  ) {
    const caret = " ".repeat(Math.max(0, position.col - 1)) + "^";
    super(
      "invalid_description",
      `${position.line}:${position.col}: ${detail}\n${sourceLine}\n${caret}`,
      {
        ...options,
        fields: { detail, line: position.line, col: position.col, source: sourceLine },
      },
    );
    this.position = position;
    this.detail = detail;
  }
}

/**
 * A fragment or attach request that is well formed but cannot be satisfied as
 * asked: an unknown fragment, an unbound or out-of-range parameter, a layout
 * that does not hold a requested field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LayoutError } from "./errors.ts";
 * const e = new LayoutError("Parameter 'r0' of fragment 'block' is not bound");
 * assert.ok(e.code === "invalid_layout");
 * ```
 */
export class LayoutError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("invalid_layout", message, options);
  }
}

/** A box of variable indices: `start[d] <= i[d] < start[d] + count[d]`. */
export interface IndexBox {
  /** First index per dimension. */
  readonly start: readonly number[];
  /** Number of indices per dimension. */
  readonly count: readonly number[];
}

/**
 * The sources given to a transform do not cover the requested target: the
 * missing sub-regions are named, and nothing is returned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MissingRegionError } from "./errors.ts";
 * const e = new MissingRegionError("temp", "", [{ start: [4], count: [4] }]);
 * assert.ok(e.message.includes("[4:8]"));
 * assert.deepEqual(e.missing, [{ start: [4], count: [4] }]);
 * ```
 */
export class MissingRegionError extends StrataError {
  /** Dataset variable with missing data. */
  readonly variable: string;
  /** Leaf field path with missing data ("" for a scalar element). */
  readonly field: string;
  /** Missing boxes, in variable index space. */
  readonly missing: readonly IndexBox[];

  /** Creates the error naming the missing boxes. */
  constructor(
    variable: string,
    field: string,
    missing: readonly IndexBox[],
    options: StrataErrorOptions = {},
  ) {
    const name = field === "" ? variable : `${variable}.${field}`;
    const boxes = missing.map(formatBox).join(", ");
    super("missing_region", `Sources do not cover '${name}': missing ${boxes}`, {
      ...options,
      fields: {
        variable,
        field,
        missing: missing.map((b) => ({ start: [...b.start], count: [...b.count] })),
      },
    });
    this.variable = variable;
    this.field = field;
    this.missing = missing;
  }
}

/**
 * Formats a box as `[a:b, c:d]` with exclusive ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBox } from "./errors.ts";
 * assert.ok(formatBox({ start: [0, 2], count: [4, 2] }) === "[0:4, 2:4]");
 * ```
 */
export function formatBox(box: IndexBox): string {
  return `[${box.start.map((s, d) => `${s}:${s + (box.count[d] ?? 0)}`).join(", ")}]`;
}

/** A tier's usage, as `NodeFullError` reports it. */
export interface TierUsageNote {
  /** Tier name. */
  readonly name: string;
  /** Capacity in bytes. */
  readonly capacity: number;
  /** Bytes held. */
  readonly used: number;
}

/**
 * No tier of a node can take a fragment copy, even after spilling its
 * least recently used copies (HTTP 507, `insufficient_storage`): the message
 * names the copy and what each tier holds. Nothing was stored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NodeFullError } from "./errors.ts";
 * const e = new NodeFullError("n1", {
 *   what: "fragment 'viz' of version 3 of 'particles'",
 *   byteLength: 4096,
 *   tiers: [{ name: "memory", capacity: 1024, used: 1000 }],
 * });
 * assert.equal(e.code, "insufficient_storage");
 * assert.equal(e.message, "Node 'n1' has no room for 4096 bytes of fragment 'viz' of version 3 of 'particles': tier 'memory' holds 1000 of 1024 bytes");
 * ```
 */
export class NodeFullError extends StrataError {
  /** The node. */
  readonly node: string;
  /** Usage of the tiers considered. */
  readonly tiers: readonly TierUsageNote[];

  /** Creates the error naming the node, the copy, its size, why, and each tier's usage. */
  constructor(
    node: string,
    copy: {
      readonly what: string;
      readonly byteLength: number;
      readonly tiers: readonly TierUsageNote[];
      readonly detail?: string | undefined;
    },
    options: StrataErrorOptions = {},
  ) {
    const usage = copy.tiers.map((t) => `tier '${t.name}' holds ${t.used} of ${t.capacity} bytes`);
    super(
      "insufficient_storage",
      `Node '${node}' has no room for ${copy.byteLength} bytes of ${copy.what}: ${
        [...(copy.detail === undefined ? [] : [copy.detail]), ...usage].join(", ")
      }`,
      {
        ...options,
        fields: {
          node,
          what: copy.what,
          byteLength: copy.byteLength,
          tiers: copy.tiers.map((t) => ({ name: t.name, capacity: t.capacity, used: t.used })),
          ...(copy.detail === undefined ? {} : { detail: copy.detail }),
        },
      },
    );
    this.node = node;
    this.tiers = copy.tiers;
  }
}

/**
 * One tier has no room for a fragment copy: the message names the tier, its
 * capacity, what it holds and what was asked. A node's tier set spills or
 * tries the next tier; what leaves a node is a `NodeFullError`, so this one
 * is a narrower kind of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NodeFullError, TierFullError } from "./errors.ts";
 * const e = new TierFullError("memory", { capacity: 100, used: 90, requested: 20 });
 * assert.equal(e.message, "Tier 'memory' is full: capacity 100 bytes, 90 used, 20 requested");
 * assert.ok(e instanceof NodeFullError);
 * ```
 */
export class TierFullError extends NodeFullError {
  /** The tier that is full. */
  readonly tier: string;

  /** Creates the error. */
  constructor(
    tier: string,
    usage: { readonly capacity: number; readonly used: number; readonly requested: number },
    options: StrataErrorOptions = {},
  ) {
    super("", {
      what: `a copy on tier '${tier}'`,
      byteLength: usage.requested,
      tiers: [{ name: tier, capacity: usage.capacity, used: usage.used }],
    }, {
      message:
        `Tier '${tier}' is full: capacity ${usage.capacity} bytes, ${usage.used} used, ${usage.requested} requested`,
      ...options,
    });
    this.tier = tier;
  }
}

/**
 * Stored or transferred bytes that do not match their checksum: they are
 * never served. A server-side fault, never the request's: no client sends a
 * checksum, so the HTTP API keeps it a 500; an attach turns it into a lost
 * copy (`gone`) once no other node has one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChecksumError } from "./errors.ts";
 * const e = new ChecksumError("particles/3/viz", 1, 2);
 * assert.equal(e.code, "checksum_mismatch");
 * assert.deepEqual(e.fields, { key: "particles/3/viz", expected: 1, found: 2 });
 * ```
 */
export class ChecksumError extends StrataError {
  /** The copy whose bytes do not match. */
  readonly key: string;
  /** The checksum recorded. */
  readonly expected: number;
  /** The checksum of the bytes found. */
  readonly found: number;

  /** Creates the error naming the copy and both checksums. */
  constructor(key: string, expected: number, found: number, options: StrataErrorOptions = {}) {
    super(
      "checksum_mismatch",
      `Checksum mismatch for '${key}': expected ${expected.toString(16)}, found ${
        found.toString(16)
      }`,
      { ...options, fields: { key, expected, found } },
    );
    this.key = key;
    this.expected = expected;
    this.found = found;
  }
}

/** Options of a `LostError`. */
export interface LostErrorOptions extends StrataErrorOptions {
  /** The node whose copy is gone, when one node is meant. */
  readonly node?: string;
}

/**
 * The bytes of a committed fragment are gone (HTTP 410, `gone`): they were
 * held only in memory by a runtime that restarted or died, or the copy on a
 * node no longer matches its record. Never served as zeros.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LostError } from "./errors.ts";
 * const e = new LostError("particles", 3, "viz");
 * assert.equal(e.message, "Version 3 of 'particles' is lost: fragment 'viz' was held only in memory and is gone");
 * assert.equal(e.detail, "was held only in memory and is gone");
 * ```
 */
export class LostError extends StrataError {
  /** Dataset name. */
  readonly dataset: string;
  /** Version number. */
  readonly version: number;
  /** Fragment whose bytes are gone (several, joined by `', '`, when an attach lost several). */
  readonly fragment: string;
  /** What happened to the bytes, as the message says it after the fragment. */
  readonly detail: string;
  /** The node whose copy is gone, when one node is meant. */
  readonly node: string | undefined;

  /** Creates the error naming the dataset, version and fragment. */
  constructor(
    dataset: string,
    version: number,
    fragment: string,
    detail = "was held only in memory and is gone",
    options: LostErrorOptions = {},
  ) {
    const { node, ...rest } = options;
    super(
      "gone",
      `Version ${version} of '${dataset}' is lost: fragment '${fragment}' ${detail}`,
      {
        ...rest,
        fields: { dataset, version, fragment, detail, ...(node === undefined ? {} : { node }) },
      },
    );
    this.dataset = dataset;
    this.version = version;
    this.fragment = fragment;
    this.detail = detail;
    this.node = node;
  }
}

/**
 * Something named does not exist (HTTP 404): a dataset, a version, a
 * function, a file. Its data, when a caller needs it, goes in `fields`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotFoundError } from "./errors.ts";
 * assert.equal(new NotFoundError("Unknown dataset 'x'").code, "not_found");
 * ```
 */
export class NotFoundError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("not_found", message, options);
  }
}

/**
 * A write that conflicts with what is registered (HTTP 409): a dataset that
 * exists, a region already published, a version already committed. A
 * version in the wrong state carries `{ dataset, version, state }` in
 * `fields` (`state` is the one it has).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConflictError } from "./errors.ts";
 * const e = new ConflictError("Version 2 of 'x' is already committed", {
 *   fields: { dataset: "x", version: 2, state: "committed" },
 * });
 * assert.equal(e.code, "conflict");
 * assert.equal(e.fields.state, "committed");
 * ```
 */
export class ConflictError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("conflict", message, options);
  }
}

/**
 * A dataset was deleted and created again under its name since the caller
 * read its description (HTTP 409, `conflict`): the layout the caller made
 * from it may not fit the new one. Read the description again. In another
 * process it arrives as a `ConflictError` with the same fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatasetReplacedError } from "./errors.ts";
 * const e = new DatasetReplacedError("grid", 1000, 2000);
 * assert.equal(e.code, "conflict");
 * assert.deepEqual(e.fields, { dataset: "grid", expectedCreatedAt: 1000, createdAt: 2000 });
 * ```
 */
export class DatasetReplacedError extends ConflictError {
  /** Creates the error from the creation times expected and found. */
  constructor(dataset: string, expected: number, found: number, options: StrataErrorOptions = {}) {
    super(
      `Dataset '${dataset}' was created again (at ${
        new Date(found).toISOString()
      }) since its description was read (created at ${
        new Date(expected).toISOString()
      }): read it again`,
      { ...options, fields: { dataset, expectedCreatedAt: expected, createdAt: found } },
    );
  }
}

/**
 * An attach of a version that is not committed (HTTP 409): ask with `wait`
 * to wait for it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotCommittedError } from "./errors.ts";
 * assert.equal(new NotCommittedError("particles", 4).code, "not_committed");
 * ```
 */
export class NotCommittedError extends StrataError {
  /** Dataset name. */
  readonly dataset: string;
  /** Version number. */
  readonly version: number;

  /** Creates the error naming the dataset and version. */
  constructor(dataset: string, version: number, options: StrataErrorOptions = {}) {
    super(
      "not_committed",
      `Version ${version} of '${dataset}' is not committed: attach with wait to wait for it`,
      { ...options, fields: { dataset, version } },
    );
    this.dataset = dataset;
    this.version = version;
  }
}

/**
 * A wait for a version that ran out (HTTP 408, `timeout`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WaitTimeoutError } from "./errors.ts";
 * assert.equal(new WaitTimeoutError("particles", 5, 100).message, "Timed out after 100 ms waiting for version 5 of 'particles' to be committed");
 * ```
 */
export class WaitTimeoutError extends StrataError {
  /** Dataset name. */
  readonly dataset: string;
  /** The version waited for (or any later one). */
  readonly version: number;
  /** How long it waited, in milliseconds. */
  readonly ms: number;

  /** Creates the error naming what was awaited and for how long. */
  constructor(dataset: string, version: number, ms: number, options: StrataErrorOptions = {}) {
    super(
      "timeout",
      `Timed out after ${ms} ms waiting for version ${version} of '${dataset}' to be committed`,
      { ...options, fields: { dataset, version, ms } },
    );
    this.dataset = dataset;
    this.version = version;
    this.ms = ms;
  }
}

/**
 * A publish whose byte length is not the fragment region's (HTTP 400):
 * nothing is registered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SizeMismatchError } from "./errors.ts";
 * const e = new SizeMismatchError("viz", 4096, 4000);
 * assert.equal(e.code, "size_mismatch");
 * assert.equal(e.message, "Cannot publish fragment 'viz': expected 4096 bytes, received 4000");
 * ```
 */
export class SizeMismatchError extends StrataError {
  /** The fragment. */
  readonly fragment: string;
  /** Bytes the fragment region takes. */
  readonly expected: number;
  /** Bytes offered (`more than N` for a body cut short once it passed `N`). */
  readonly received: number | string;

  /** Creates the error naming the fragment and both sizes. */
  constructor(
    fragment: string,
    expected: number,
    received: number | string,
    options: StrataErrorOptions = {},
  ) {
    super(
      "size_mismatch",
      `Cannot publish fragment '${fragment}': expected ${expected} bytes, received ${received}`,
      { ...options, fields: { fragment, expected, received } },
    );
    this.fragment = fragment;
    this.expected = expected;
    this.received = received;
  }
}

/**
 * A request whose fields are malformed (HTTP 400): an invalid name, a
 * version that is not a positive integer, a missing field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidRequestError } from "./errors.ts";
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
 * import { UnavailableError } from "./errors.ts";
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
 * import { ClosedError, UnavailableError } from "./errors.ts";
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
 * import { WireProtocolError } from "./errors.ts";
 * assert.equal(new WireProtocolError("Frame too large: 2 MiB").code, "wire_protocol");
 * ```
 */
export class WireProtocolError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("wire_protocol", message, options);
  }
}

/** The checks a function module passes at deploy. */
export type DeployStage = "declaration" | "type-check" | "dry-run";

/**
 * A function module refused at deploy (HTTP 400): its declaration is invalid,
 * it does not type-check, or its dry run on a sample of its declared input
 * failed. Nothing is stored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidFunctionError } from "./errors.ts";
 * const e = new InvalidFunctionError("histogram", "dry-run", "run() threw: Boom");
 * assert.equal(e.code, "invalid_function");
 * assert.equal(e.message, "Cannot deploy function 'histogram': dry-run failed: run() threw: Boom");
 * ```
 */
export class InvalidFunctionError extends StrataError {
  /** The function's name. */
  readonly function: string;
  /** Which check refused it. */
  readonly stage: DeployStage;
  /** What the check found. */
  readonly detail: string;

  /** Creates the error naming the function, the check and what it found. */
  constructor(
    name: string,
    stage: DeployStage,
    detail: string,
    options: StrataErrorOptions = {},
  ) {
    super(
      "invalid_function",
      `Cannot deploy function '${name}': ${stage} failed: ${detail}`,
      { ...options, fields: { function: name, stage, detail } },
    );
    this.function = name;
    this.stage = stage;
    this.detail = detail;
  }
}

/**
 * A call of a deployed function that threw, or returned what its declaration
 * does not allow (HTTP 422). The service and other functions are unaffected.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FunctionFailedError } from "./errors.ts";
 * const e = new FunctionFailedError("histogram", 3, "TypeError: x is undefined");
 * assert.equal(e.code, "function_failed");
 * assert.equal(e.message, "Function 'histogram' version 3 failed: TypeError: x is undefined");
 * ```
 */
export class FunctionFailedError extends StrataError {
  /** The function's name. */
  readonly function: string;
  /** The function's version. */
  readonly version: number;
  /** What went wrong. */
  readonly detail: string;

  /** Creates the error naming the function, its version and what went wrong. */
  constructor(name: string, version: number, detail: string, options: StrataErrorOptions = {}) {
    super("function_failed", `Function '${name}' version ${version} failed: ${detail}`, {
      ...options,
      fields: { function: name, version, detail },
    });
    this.function = name;
    this.version = version;
    this.detail = detail;
  }
}

/** The limits of a function call. */
export type CallLimit = "time" | "memory" | "output";

/**
 * A call of a deployed function that crossed one of its limits (HTTP 422):
 * wall time (its process was killed and is replaced), memory, or output
 * size. The message names the limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LimitExceededError } from "./errors.ts";
 * const e = new LimitExceededError("spin", 1, "time", "ran past its limit of 100 ms and was terminated");
 * assert.equal(e.limit, "time");
 * assert.equal(e.message, "Function 'spin' version 1 exceeded its time limit: ran past its limit of 100 ms and was terminated");
 * ```
 */
export class LimitExceededError extends StrataError {
  /** The function's name. */
  readonly function: string;
  /** The function's version. */
  readonly version: number;
  /** The limit crossed. */
  readonly limit: CallLimit;
  /** What happened. */
  readonly detail: string;

  /** Creates the error naming the function, its version, the limit and the detail. */
  constructor(
    name: string,
    version: number,
    limit: CallLimit,
    detail: string,
    options: StrataErrorOptions = {},
  ) {
    super(
      "limit_exceeded",
      `Function '${name}' version ${version} exceeded its ${limit} limit: ${detail}`,
      { ...options, fields: { function: name, version, limit, detail } },
    );
    this.function = name;
    this.version = version;
    this.limit = limit;
    this.detail = detail;
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
 * import { BusyError } from "./errors.ts";
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
 * import { UnauthorizedError } from "./errors.ts";
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
 * import { PayloadTooLargeError } from "./errors.ts";
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
 * import { UnsupportedMediaTypeError } from "./errors.ts";
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
 * import { NotHereError } from "./errors.ts";
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
 * import { InvalidConfigError } from "./errors.ts";
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
 * import { InternalError } from "./errors.ts";
 * assert.equal(new InternalError("Disk full").code, "internal");
 * ```
 */
export class InternalError extends StrataError {
  /** Creates the error. */
  constructor(message: string, options?: StrataErrorOptions) {
    super("internal", message, options);
  }
}

/** An error as it crosses a process: in HTTP bodies, control calls and data plane frames. */
export interface ErrorBody {
  /** The error's code. */
  readonly code: ErrorCode;
  /** Its message. */
  readonly message: string;
  /** Its data, when it has any. */
  readonly fields?: ErrorFields;
}

/**
 * The body an error crosses a process as: its code, message and fields
 * (`fields` left out when empty). Anything that is not a `StrataError` is
 * `internal` with its message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorBody, NotCommittedError } from "./errors.ts";
 * assert.deepEqual(errorBody(new NotCommittedError("grid", 2)), {
 *   code: "not_committed",
 *   message: "Version 2 of 'grid' is not committed: attach with wait to wait for it",
 *   fields: { dataset: "grid", version: 2 },
 * });
 * assert.deepEqual(errorBody(new Error("Disk full")), { code: "internal", message: "Disk full" });
 * ```
 */
export function errorBody(e: unknown): ErrorBody {
  if (!(e instanceof StrataError)) {
    return { code: "internal", message: e instanceof Error ? e.message : String(e) };
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
 * import { errorBody, errorFromCode, LostError } from "./errors.ts";
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
 * import { errorFromBody, NotFoundError } from "./errors.ts";
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
