/**
 * Checks of operation inputs: each bad field is an `InvalidRequestError`
 * naming it.
 *
 * @module
 */

import { InvalidRequestError } from "../../errors.ts";

/** Most entries one request lists or carries. */
export const MAX_ENTRIES = 10_000;

/** The input as a mapping. */
export function record(input: unknown): Record<string, unknown> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new InvalidRequestError("Invalid request body: expected a mapping");
  }
  return input as Record<string, unknown>;
}

/** A string field. */
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

/** A bytes field (msgpack bin). */
export function bytes(v: unknown, name: string): Uint8Array {
  if (!(v instanceof Uint8Array)) {
    throw new InvalidRequestError(`Invalid field '${name}': expected bytes (msgpack bin)`, {
      fields: { field: name },
    });
  }
  return v;
}

/** A list field of at most `MAX_ENTRIES` entries. */
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

/** An integer field within bounds (its default when absent). */
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
