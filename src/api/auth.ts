/**
 * Bearer-token check for mutating requests.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { UnauthorizedError } from "../errors.ts";

/**
 * A middleware that lets reads through and requires `Authorization: Bearer
 * TOKEN` on every other method (401 `unauthorized` otherwise). The scheme is
 * matched case-insensitively (RFC 7235: `bearer` and `BEARER` do too), the
 * token exactly, in time independent of where it differs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { requireToken } from "./auth.ts";
 * import { errorResponse } from "./errors.ts";
 * const app = new Hono().use(requireToken("s3cret")).post("/", (c) => c.text("ok")).onError(errorResponse);
 * assert.equal((await app.request("/", { method: "POST" })).status, 401);
 * const ok = await app.request("/", { method: "POST", headers: { authorization: "Bearer s3cret" } });
 * assert.equal(ok.status, 200);
 * ```
 */
export function requireToken(token: string): MiddlewareHandler {
  const expected = new TextEncoder().encode(token);
  return async function bearerToken(c, next) {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const match = /^bearer[ ]+(.*)$/i.exec(c.req.header("authorization") ?? "");
      const got = new TextEncoder().encode(match?.[1] ?? "");
      if (match === null || !sameBytes(got, expected)) {
        throw new UnauthorizedError(
          "Missing or wrong bearer token: mutating requests need 'Authorization: Bearer <token>'",
        );
      }
    }
    await next();
  };
}

/** Compares in time independent of where the first difference is. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i]!;
  return diff === 0;
}
