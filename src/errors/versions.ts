/**
 * Errors of datasets and versions: unknown, in the wrong state, replaced, not
 * committed in time, published with the wrong size.
 *
 * @module
 */

import { StrataError, type StrataErrorOptions } from "./base.ts";

/**
 * Something named does not exist (HTTP 404): a dataset, a version, a
 * function, a file. Its data, when a caller needs it, goes in `fields`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotFoundError } from "../errors.ts";
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
 * import { ConflictError } from "../errors.ts";
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
 * import { DatasetReplacedError } from "../errors.ts";
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
 * import { NotCommittedError } from "../errors.ts";
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
 * import { WaitTimeoutError } from "../errors.ts";
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
 * import { SizeMismatchError } from "../errors.ts";
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
