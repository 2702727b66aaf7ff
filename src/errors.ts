/**
 * Every error Strata's callers are expected to handle, in one place. Each
 * carries a stable `code` that the HTTP layer maps to a status.
 *
 * @module
 */

/**
 * Base class of Strata's own errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StrataError } from "./errors.ts";
 * const e = new StrataError("not_found", "Unknown dataset: 'particles'");
 * assert.ok(e.code === "not_found");
 * ```
 */
export class StrataError extends Error {
  /** Stable machine-readable code, such as `invalid_description`. */
  readonly code: string;

  /** Creates an error with a code, a message and an optional cause. */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
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
 * ```
 */
export class DescriptionError extends StrataError {
  /** Position of the error in the description. */
  readonly position: SourcePosition;
  /** The message without position and snippet. */
  readonly detail: string;

  /** Creates the error from a detail message, a position and the source line. */
  constructor(detail: string, position: SourcePosition, sourceLine: string) {
    const caret = " ".repeat(Math.max(0, position.col - 1)) + "^";
    super(
      "invalid_description",
      `${position.line}:${position.col}: ${detail}\n${sourceLine}\n${caret}`,
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
  constructor(message: string, options?: ErrorOptions) {
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
  constructor(variable: string, field: string, missing: readonly IndexBox[]) {
    const name = field === "" ? variable : `${variable}.${field}`;
    const boxes = missing.map(formatBox).join(", ");
    super("missing_region", `Sources do not cover '${name}': missing ${boxes}`);
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

/**
 * A tier has no room for a fragment copy (HTTP 507): the message names the
 * tier, its capacity, what it holds and what was asked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TierFullError } from "./errors.ts";
 * const e = new TierFullError("memory", { capacity: 100, used: 90, requested: 20 });
 * assert.equal(e.message, "Tier 'memory' is full: capacity 100 bytes, 90 used, 20 requested");
 * ```
 */
export class TierFullError extends StrataError {
  /** The tier that is full. */
  readonly tier: string;

  /** Creates the error. */
  constructor(tier: string, usage: { capacity: number; used: number; requested: number }) {
    super(
      "insufficient_storage",
      `Tier '${tier}' is full: capacity ${usage.capacity} bytes, ${usage.used} used, ${usage.requested} requested`,
    );
    this.tier = tier;
  }
}

/**
 * Stored bytes that no longer match their checksum: they are never served.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChecksumError } from "./errors.ts";
 * assert.equal(new ChecksumError("particles/3/viz", 1, 2).code, "checksum_mismatch");
 * ```
 */
export class ChecksumError extends StrataError {
  /** Creates the error naming the copy and both checksums. */
  constructor(key: string, expected: number, found: number) {
    super(
      "checksum_mismatch",
      `Checksum mismatch for '${key}': expected ${expected.toString(16)}, found ${
        found.toString(16)
      }`,
    );
  }
}

/**
 * The bytes of a committed fragment are gone (HTTP 410): they were held only
 * in memory by a runtime that restarted or died. Never served as zeros.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LostError } from "./errors.ts";
 * const e = new LostError("particles", 3, "viz");
 * assert.equal(e.message, "Version 3 of 'particles' is lost: fragment 'viz' was held only in memory and is gone");
 * ```
 */
export class LostError extends StrataError {
  /** Dataset name. */
  readonly dataset: string;
  /** Version number. */
  readonly version: number;
  /** Fragment whose bytes are gone. */
  readonly fragment: string;

  /** Creates the error naming the dataset, version and fragment. */
  constructor(
    dataset: string,
    version: number,
    fragment: string,
    detail = "was held only in memory and is gone",
  ) {
    super("gone", `Version ${version} of '${dataset}' is lost: fragment '${fragment}' ${detail}`);
    this.dataset = dataset;
    this.version = version;
    this.fragment = fragment;
  }
}

/**
 * Something named does not exist (HTTP 404): a dataset, a version.
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
  constructor(message: string) {
    super("not_found", message);
  }
}

/**
 * A write that conflicts with what is registered (HTTP 409): a dataset that
 * exists, a region already published, a version already committed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConflictError } from "./errors.ts";
 * assert.equal(new ConflictError("Dataset 'x' exists").code, "conflict");
 * ```
 */
export class ConflictError extends StrataError {
  /** Creates the error. */
  constructor(message: string) {
    super("conflict", message);
  }
}

/**
 * A dataset was deleted and created again under its name since the caller
 * read its description (HTTP 409): the layout the caller made from it may
 * not fit the new one. Read the description again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatasetReplacedError } from "./errors.ts";
 * const e = new DatasetReplacedError("grid", 1000, 2000);
 * assert.equal(e.code, "conflict");
 * assert.match(e.message, /'grid' was created again/);
 * ```
 */
export class DatasetReplacedError extends ConflictError {
  /** Creates the error from the creation times expected and found. */
  constructor(dataset: string, expected: number, found: number) {
    super(
      `Dataset '${dataset}' was created again (at ${
        new Date(found).toISOString()
      }) since its description was read (created at ${
        new Date(expected).toISOString()
      }): read it again`,
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
  /** Creates the error naming the dataset and version. */
  constructor(dataset: string, version: number) {
    super(
      "not_committed",
      `Version ${version} of '${dataset}' is not committed: attach with wait to wait for it`,
    );
  }
}

/**
 * A wait that ran out (HTTP 408).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WaitTimeoutError } from "./errors.ts";
 * assert.equal(new WaitTimeoutError("particles", 5, 100).message, "Timed out after 100 ms waiting for version 5 of 'particles' to be committed");
 * ```
 */
export class WaitTimeoutError extends StrataError {
  /** Creates the error naming what was awaited and for how long. */
  constructor(dataset: string, version: number, ms: number) {
    super(
      "timeout",
      `Timed out after ${ms} ms waiting for version ${version} of '${dataset}' to be committed`,
    );
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
  /** Bytes the fragment region takes. */
  readonly expected: number;
  /** Bytes offered. */
  readonly received: number;

  /** Creates the error naming the fragment and both sizes. */
  constructor(fragment: string, expected: number, received: number) {
    super(
      "size_mismatch",
      `Cannot publish fragment '${fragment}': expected ${expected} bytes, received ${received}`,
    );
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
  constructor(message: string, options?: ErrorOptions) {
    super("invalid_request", message, options);
  }
}

/**
 * An operation on a service that is closed or closing (HTTP 503): writes
 * still queued when it closed fail with this error and are not applied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClosedError } from "./errors.ts";
 * const e = new ClosedError("registry");
 * assert.equal(e.code, "unavailable");
 * assert.equal(e.message, "The registry is closed: nothing was written");
 * ```
 */
export class ClosedError extends StrataError {
  /** Creates the error naming what is closed. */
  constructor(what: string, detail = "nothing was written") {
    super("unavailable", `The ${what} is closed: ${detail}`);
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
  constructor(message: string, options?: ErrorOptions) {
    super("wire_protocol", message, options);
  }
}

/**
 * A node that holds needed bytes does not answer, or is too busy to queue
 * another request (HTTP 503): retry later; nothing is lost yet.
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
  constructor(message: string, options?: ErrorOptions) {
    super("unavailable", message, options);
  }
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
 * least recently used copies (HTTP 507): the message names the copy and what
 * each tier holds. Nothing was stored.
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
  ) {
    const usage = copy.tiers.map((t) => `tier '${t.name}' holds ${t.used} of ${t.capacity} bytes`);
    super(
      "insufficient_storage",
      `Node '${node}' has no room for ${copy.byteLength} bytes of ${copy.what}: ${
        [...(copy.detail === undefined ? [] : [copy.detail]), ...usage].join(", ")
      }`,
    );
    this.node = node;
    this.tiers = copy.tiers;
  }
}

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
  /** Which check refused it. */
  readonly stage: "declaration" | "type-check" | "dry-run";

  /** Creates the error naming the function, the check and what it found. */
  constructor(
    name: string,
    stage: "declaration" | "type-check" | "dry-run",
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      "invalid_function",
      `Cannot deploy function '${name}': ${stage} failed: ${detail}`,
      options,
    );
    this.stage = stage;
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
  /** Creates the error naming the function, its version and what went wrong. */
  constructor(name: string, version: number, detail: string) {
    super("function_failed", `Function '${name}' version ${version} failed: ${detail}`);
  }
}

/**
 * A call of a deployed function that crossed one of its limits (HTTP 422):
 * wall time (its Worker was terminated and is replaced), memory, or output
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
  /** The limit crossed. */
  readonly limit: "time" | "memory" | "output";

  /** Creates the error naming the function, its version, the limit and the detail. */
  constructor(
    name: string,
    version: number,
    limit: "time" | "memory" | "output",
    detail: string,
  ) {
    super(
      "limit_exceeded",
      `Function '${name}' version ${version} exceeded its ${limit} limit: ${detail}`,
    );
    this.limit = limit;
  }
}

/**
 * Too many calls already wait for a function's Workers (HTTP 503): try again
 * later. Queues are bounded so a slow function cannot hold unbounded memory.
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
  constructor(message: string) {
    super("busy", message);
  }
}
