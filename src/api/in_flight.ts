/**
 * A bound on the requests one process handles at once.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { BusyError } from "../errors.ts";

/**
 * A middleware that lets at most `max` requests be handled at once (waits
 * and long polls included); one more is answered at once with 503 `busy`
 * and a `retry-after` of one second, and nothing of it is read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { limitInFlight } from "./in_flight.ts";
 * import { errorResponse } from "./errors.ts";
 * let release = () => {};
 * const held = new Promise<void>((r) => release = r);
 * const app = new Hono().use(limitInFlight(1))
 *   .get("/slow", async (c) => { await held; return c.text("done"); })
 *   .get("/", (c) => c.text("ok"))
 *   .onError(errorResponse);
 * const slow = app.request("/slow");
 * const busy = await app.request("/");
 * assert.equal(busy.status, 503);
 * assert.equal(busy.headers.get("retry-after"), "1");
 * release();
 * assert.equal(await (await slow).text(), "done");
 * assert.equal((await app.request("/")).status, 200);
 * ```
 */
export function limitInFlight(max: number): MiddlewareHandler {
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RangeError(`Invalid maxInFlight: expected an integer >= 1, received ${max}`);
  }
  let inFlight = 0;
  return async function requestsInFlight(c, next) {
    if (inFlight >= max) {
      c.header("retry-after", "1");
      throw new BusyError(`Too many requests in flight (${max}): try again shortly`);
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
}
