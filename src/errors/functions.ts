/**
 * Errors of deployed functions: a module refused at deploy, a call that
 * failed, a call past its limits.
 *
 * @module
 */

import { StrataError, type StrataErrorOptions } from "./base.ts";

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
 * import { InvalidFunctionError } from "../errors.ts";
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
 * import { FunctionFailedError } from "../errors.ts";
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
 * import { LimitExceededError } from "../errors.ts";
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
