/**
 * Checks of a service operation's input (a decoded JSON or msgpack body):
 * each bad field is an `InvalidRequestError` naming it.
 *
 * @module
 */

import { InvalidRequestError } from "../errors.ts";

/** Most entries one request lists or carries. */
export const MAX_ENTRIES = 10_000;

/**
 * The input as a mapping.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { record } from "./input.ts";
 * assert.deepEqual(record({ a: 1 }), { a: 1 });
 * assert.throws(() => record([1]), /expected a mapping/);
 * ```
 */
export function record(input: unknown): Record<string, unknown> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new InvalidRequestError("Invalid request body: expected a mapping");
  }
  return input as Record<string, unknown>;
}

/**
 * A string field (`""` when absent and `optional`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { str } from "./input.ts";
 * assert.equal(str({ name: "x" }, "name"), "x");
 * assert.equal(str({}, "parent", true), "");
 * assert.throws(() => str({ name: 3 }, "name"), /Invalid field 'name'/);
 * ```
 */
export function str(r: Record<string, unknown>, name: string, optional = false): string {
  const v = r[name];
  if (v === undefined && optional) return "";
  if (typeof v !== "string") {
    throw new InvalidRequestError(`Invalid field '${name}': expected a string`, {
      fields: { field: name },
    });
  }
  return v;
}

/**
 * A bytes field (msgpack bin).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytes } from "./input.ts";
 * assert.equal(bytes(new Uint8Array(2), "value").length, 2);
 * assert.throws(() => bytes("ab", "value"), /expected bytes/);
 * ```
 */
export function bytes(v: unknown, name: string): Uint8Array {
  if (!(v instanceof Uint8Array)) {
    throw new InvalidRequestError(`Invalid field '${name}': expected bytes (msgpack bin)`, {
      fields: { field: name },
    });
  }
  return v;
}

/**
 * A list field of at most `MAX_ENTRIES` entries.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { list } from "./input.ts";
 * assert.deepEqual(list({ items: [1, 2] }, "items"), [1, 2]);
 * assert.throws(() => list({ items: 1 }, "items"), /expected a list/);
 * ```
 */
export function list(r: Record<string, unknown>, name: string): unknown[] {
  const v = r[name];
  if (!Array.isArray(v) || v.length > MAX_ENTRIES) {
    throw new InvalidRequestError(
      `Invalid field '${name}': expected a list of at most ${MAX_ENTRIES} entries`,
      { fields: { field: name, limit: MAX_ENTRIES } },
    );
  }
  return v;
}

/**
 * An integer field within bounds (its default when absent).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { int } from "./input.ts";
 * assert.equal(int({ n: 3 }, "n", 1, 10), 3);
 * assert.equal(int({}, "n", 1, 10, 5), 5);
 * assert.throws(() => int({ n: 11 }, "n", 1, 10), /from 1 to 10/);
 * ```
 */
export function int(
  r: Record<string, unknown>,
  name: string,
  lo: number,
  hi: number,
  fallback?: number,
): number {
  const v = r[name] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
    throw new InvalidRequestError(
      `Invalid field '${name}': expected an integer from ${lo} to ${hi}`,
      {
        fields: { field: name },
      },
    );
  }
  return v;
}

/**
 * The lease options of a request that leases files for reading in place:
 * `ttlMs` when given, 1 ms to 10 minutes (the node's lease book refuses
 * longer ones).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { leaseOptions } from "./input.ts";
 * assert.deepEqual(leaseOptions({}), {});
 * assert.deepEqual(leaseOptions({ ttlMs: 5000 }), { ttlMs: 5000 });
 * assert.throws(() => leaseOptions({ ttlMs: 0 }), /Invalid field 'ttlMs'/);
 * ```
 */
export function leaseOptions(r: Record<string, unknown>): { readonly ttlMs?: number } {
  return r.ttlMs === undefined ? {} : { ttlMs: int(r, "ttlMs", 1, 600_000) };
}
