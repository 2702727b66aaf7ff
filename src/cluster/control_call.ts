/**
 * One JSON request of the control plane between processes (runtime to name
 * server, name server to runtime): bearer token, JSON in and out, and the
 * peer's error body turned back into the error class the peer threw, with
 * its fields (`errorFromBody()`). It is `httpJson()` of `src/http/` with the
 * control plane's error reading.
 *
 * @module
 */

import { errorFromBody, UnavailableError } from "../errors.ts";
import { errorBodyOf, httpJson } from "../http/call.ts";

/** Options of `controlCall()`. */
export interface ControlCallOptions {
  /** Bearer token of the peer. */
  readonly token?: string;
  /** Aborts the request. */
  readonly signal?: AbortSignal;
  /** Fails the request (`UnavailableError`) once it has taken this long, ms. */
  readonly timeoutMs?: number;
  /** How errors name the peer, e.g. `Name server http://127.0.0.1:7000`. */
  readonly peer?: string;
}

/**
 * Sends `body` (as JSON) to `base + path` and returns the parsed answer
 * (`undefined` for 204). A peer that cannot be reached, or that stops
 * answering before its reply is read, is `UnavailableError`; an error reply
 * is the class of the peer's code, with its message and fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { controlCall } from "./control_call.ts";
 * import { UnavailableError } from "../errors.ts";
 * const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = (probe.addr as Deno.NetAddr).port;
 * probe.close();
 * await assert.rejects(
 *   controlCall(`http://127.0.0.1:${port}`, "GET", "/v1/nodes"),
 *   UnavailableError,
 * );
 * ```
 */
export async function controlCall<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  options: ControlCallOptions = {},
): Promise<T> {
  const peer = options.peer ?? base;
  return await httpJson<T>(
    base + path,
    {
      method,
      accept: "application/json",
      peer,
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(body === undefined ? {} : { body }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    },
    (status, text) =>
      errorFromBody(errorBodyOf(text)) ??
        new UnavailableError(`${peer} answered ${status}: ${text.slice(0, 200)}`),
  );
}
