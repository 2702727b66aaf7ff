/**
 * Forwarding a request to another Strata process: a runtime passes function
 * and pipeline management on to the name server that keeps them, a name
 * server passes invocations on to a runtime that holds the data.
 *
 * @module
 */

import type { Context } from "hono";
import { httpRequest } from "../http/call.ts";
import { readBoundedBytes } from "./body.ts";

/** Headers that travel with a forwarded request. */
const REQUEST_HEADERS = ["accept", "authorization", "content-type"];
/** Headers of the answer that are not passed back (the body is re-framed). */
const HOP_HEADERS = ["connection", "content-length", "keep-alive", "transfer-encoding"];

/** How `forward` sends a request on. */
export interface ForwardOptions {
  /** Sent as the JSON body instead of the request's own (already read by the route). */
  readonly body?: unknown;
  /** Longest wait for the whole answer, in ms; none when absent. */
  readonly timeoutMs?: number;
  /** How errors name `base`, e.g. `Name server http://10.0.0.1:7000`. */
  readonly peer?: string;
}

/**
 * Sends the request of `c` (method, path, query, headers and a body of at
 * most `maxBodyBytes`, or `options.body` as JSON when given) to `base` and
 * answers with its response. `UnavailableError` (503) when `base` cannot be
 * reached, or has not answered whole within `options.timeoutMs` (its body
 * included), named as `options.peer` (default: `base`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { forward } from "./forward.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) =>
 *   new Response(`${req.method} ${new URL(req.url).pathname}`));
 * const app = new Hono().all("*", (c) =>
 *   forward(c, `http://127.0.0.1:${server.addr.port}`, 1024, { timeoutMs: 60_000 }));
 * const res = await app.request("/v1/functions?x=1", { method: "PUT", body: "src" });
 * assert.equal(await res.text(), "PUT /v1/functions");
 * await server.shutdown();
 * ```
 */
export async function forward(
  c: Context,
  base: string,
  maxBodyBytes: number,
  options: ForwardOptions = {},
): Promise<Response> {
  const { body } = options;
  const url = new URL(c.req.url);
  const headers = new Headers();
  for (const h of REQUEST_HEADERS) {
    const v = c.req.header(h);
    if (v !== undefined) headers.set(h, v);
  }
  let payload: Uint8Array | string | null = null;
  if (body !== undefined) {
    payload = JSON.stringify(body);
    headers.set("content-type", "application/json");
  } else if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    payload = await readBoundedBytes(c.req.raw, maxBodyBytes);
  }
  const target = `${base.replace(/\/+$/, "")}${url.pathname}${url.search}`;
  // The answer passes back as it is, error bodies included: only a peer
  // that does not answer becomes an error here.
  const res = await httpRequest(target, {
    method: c.req.method,
    headers,
    rawBody: payload as BodyInit | null,
    peer: options.peer ?? base,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  const out = new Headers(res.headers);
  for (const h of HOP_HEADERS) out.delete(h);
  return new Response(res.body, { status: res.status, headers: out });
}
