/**
 * Checks of control body fields: every body is an object of the expected
 * shape before any service sees it, or a 400 `invalid_request` naming the
 * field, what was expected and what was found.
 *
 * @module
 */

import { InvalidRequestError } from "../errors.ts";

/**
 * A short rendering of a value for an error message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shown } from "./fields.ts";
 * assert.equal(shown(null), "null");
 * assert.equal(shown(undefined), "nothing");
 * assert.equal(shown("x".repeat(100)), `"${"x".repeat(39)}...`);
 * ```
 */
export function shown(v: unknown): string {
  if (v === undefined) return "nothing";
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/**
 * `body` as an object (not null, not an array), or `InvalidRequestError`:
 * `Invalid WHAT: expected SHAPE, found ...`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { objectBody } from "./fields.ts";
 * assert.deepEqual(objectBody({ a: 1 }, "lookup", "{dataset}"), { a: 1 });
 * assert.throws(() => objectBody(null, "lookup", "{dataset}"), {
 *   message: "Invalid lookup: expected {dataset}, found null",
 * });
 * ```
 */
export function objectBody(body: unknown, what: string, shape: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidRequestError(`Invalid ${what}: expected ${shape}, found ${shown(body)}`);
  }
  return body as Record<string, unknown>;
}

/**
 * Field `key` of `o` as an integer of at least `min`, `undefined` when absent
 * (if `optional`), or `InvalidRequestError` naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { intField } from "./fields.ts";
 * assert.equal(intField({ leaseMs: 5 }, "leaseMs", "renewal", { min: 1 }), 5);
 * assert.equal(intField({}, "leaseMs", "renewal", { min: 1, optional: true }), undefined);
 * assert.throws(() => intField({ leaseMs: "5" }, "leaseMs", "renewal", { min: 1 }), {
 *   message: `Invalid renewal: 'leaseMs' must be an integer >= 1, found "5"`,
 * });
 * ```
 */
export function intField(
  o: Record<string, unknown>,
  key: string,
  what: string,
  options: { readonly min: number; readonly optional?: boolean },
): number | undefined {
  const v = o[key];
  if (v === undefined && options.optional === true) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < options.min) {
    throw new InvalidRequestError(
      `Invalid ${what}: '${key}' must be an integer >= ${options.min}, found ${shown(v)}`,
    );
  }
  return v;
}

/**
 * Throws `InvalidRequestError` when `o` has a field not in `known`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onlyFields } from "./fields.ts";
 * onlyFields({ a: 1 }, ["a", "b"], "lookup");
 * assert.throws(() => onlyFields({ c: 1 }, ["a", "b"], "lookup"), {
 *   message: "Invalid lookup: unknown field 'c' (expected a, b)",
 * });
 * ```
 */
export function onlyFields(
  o: Record<string, unknown>,
  known: readonly string[],
  what: string,
): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) {
      throw new InvalidRequestError(
        `Invalid ${what}: unknown field '${shown(k).slice(1, -1)}' (expected ${known.join(", ")})`,
      );
    }
  }
}

/**
 * A version in a path: a positive integer, or `latest` where allowed;
 * `InvalidRequestError` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { versionParam } from "./fields.ts";
 * assert.equal(versionParam("3", false), 3);
 * assert.equal(versionParam("latest", true), "latest");
 * assert.throws(() => versionParam("1e3", false), {
 *   message: "Invalid version '1e3': expected a positive integer",
 * });
 * ```
 */
export function versionParam(text: string, latestAllowed: boolean): number | "latest" {
  if (latestAllowed && text === "latest") return "latest";
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    const expected = latestAllowed ? "a positive integer or 'latest'" : "a positive integer";
    throw new InvalidRequestError(
      `Invalid version '${text.slice(0, 40)}': expected ${expected}`,
    );
  }
  return n;
}

/**
 * A query parameter's integer value; `wait` also checked to be from 0 to
 * `maxWaitMs`. `InvalidRequestError` naming the parameter otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integerQuery } from "./fields.ts";
 * assert.equal(integerQuery("lo", "4", 1000), 4);
 * assert.throws(() => integerQuery("wait", "5000", 1000), {
 *   message: "Query parameter 'wait' must be from 0 to 1000 ms, found 5000",
 * });
 * ```
 */
export function integerQuery(key: string, value: string, maxWaitMs: number): number {
  const n = Number(value);
  if (value === "" || !Number.isSafeInteger(n)) {
    throw new InvalidRequestError(
      `Query parameter '${key.slice(0, 40)}' must be an integer, found '${value.slice(0, 40)}'`,
    );
  }
  if (key === "wait" && (n < 0 || n > maxWaitMs)) {
    throw new InvalidRequestError(
      `Query parameter 'wait' must be from 0 to ${maxWaitMs} ms, found ${n}`,
    );
  }
  return n;
}
