/**
 * Per-call limits of a deployed function: wall time, memory and output size.
 * Pure: defaults, ceilings and their checks.
 *
 * @module
 */

import { InvalidRequestError } from "../errors.ts";

/** The limits one call of a function runs under. */
export interface Limits {
  /** Wall time of one call, in milliseconds; the Worker is terminated past it. */
  readonly timeMs: number;
  /** Bytes the Worker may hold: JS heap plus array buffers, input arrays included. */
  readonly memoryBytes: number;
  /** Bytes a result may take (JSON text of a value, or the output fragment). */
  readonly outputBytes: number;
}

const MiB = 1024 * 1024;

/** Limits of a deploy that does not set them. */
export const DEFAULT_LIMITS: Limits = {
  timeMs: 2_000,
  memoryBytes: 256 * MiB,
  outputBytes: 16 * MiB,
};

/** The most a deploy may ask for: memory stays under what one Worker can hold safely. */
export const MAX_LIMITS: Limits = {
  timeMs: 60_000,
  memoryBytes: 2048 * MiB,
  outputBytes: 1024 * MiB,
};

/**
 * Fills `partial` with the defaults and checks each value is an integer
 * between 1 and its ceiling; throws `InvalidRequestError` naming the field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkLimits, DEFAULT_LIMITS } from "./limits.ts";
 * assert.deepEqual(checkLimits({ timeMs: 100 }), { ...DEFAULT_LIMITS, timeMs: 100 });
 * assert.throws(() => checkLimits({ memoryBytes: 4 * 2 ** 30 }), { code: "invalid_request" });
 * ```
 */
export function checkLimits(partial: unknown = {}): Limits {
  if (typeof partial !== "object" || partial === null || Array.isArray(partial)) {
    throw new InvalidRequestError(
      "Invalid limits: expected an object with timeMs, memoryBytes or outputBytes",
    );
  }
  const given = partial as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(key in DEFAULT_LIMITS)) {
      throw new InvalidRequestError(
        `Invalid limits: unknown key '${key}', expected timeMs, memoryBytes or outputBytes`,
      );
    }
  }
  const out: Record<string, number> = {};
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const v = given[key] ?? DEFAULT_LIMITS[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1 || v > MAX_LIMITS[key]) {
      throw new InvalidRequestError(
        `Invalid limit ${key} ${String(v)}: expected an integer from 1 to ${MAX_LIMITS[key]}`,
      );
    }
    out[key] = v;
  }
  return out as unknown as Limits;
}

/**
 * A short stable text of limits, part of a pool key: Workers loaded under
 * one set of limits are not reused under another.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { limitsKey } from "./limits.ts";
 * assert.equal(limitsKey({ timeMs: 1, memoryBytes: 2, outputBytes: 3 }), "1/2/3");
 * ```
 */
export function limitsKey(l: Limits): string {
  return `${l.timeMs}/${l.memoryBytes}/${l.outputBytes}`;
}
