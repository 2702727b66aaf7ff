/**
 * One HTTP call between Strata processes, and from the client: the request
 * built the same way everywhere (bearer token, `accept`, a JSON or bytes
 * body with its content type), sent through the process's shared
 * `HttpAgent` (keep-alive connections; a streamed body goes through
 * `fetch()`), a peer that does not answer turned into
 * `UnavailableError` naming it, and an error answer's body read back into
 * the class the peer threw (`errorFromBody()`).
 *
 * @module
 */

import { UnavailableError } from "../errors.ts";
import { agentFetch, type AgentRequestInit } from "./agent.ts";

/** Options of `httpRequest()` and `httpJson()`. */
export interface HttpCallOptions {
  /** The method (default `GET`). */
  readonly method?: string;
  /** Bearer token of the peer. */
  readonly token?: string;
  /** The `accept` header, when one is sent. */
  readonly accept?: string;
  /**
   * The body: bytes go as `application/octet-stream`, anything else as
   * JSON. Without one, nothing is sent.
   */
  readonly body?: unknown;
  /** A body sent as it is, with only the headers in `headers` (a forwarded request's). */
  readonly rawBody?: BodyInit | null;
  /** Headers sent besides those the other options make. */
  readonly headers?: HeadersInit;
  /** Aborts the request. */
  readonly signal?: AbortSignal;
  /**
   * Fails the request with a `TimeoutError` once it has taken this long,
   * ms: watched by the agent's one timer, without a timer per request
   * (`AgentRequestInit.timeoutMs`).
   */
  readonly timeoutMs?: number;
  /**
   * Fails the request with a `TimeoutError` when its answer's head has not
   * come within this long, ms; its body (a stream that lasts) is not bound.
   */
  readonly headTimeoutMs?: number;
  /**
   * How errors name the peer, e.g. `Name server http://127.0.0.1:7000`. When
   * given, a peer that cannot be reached, or that stops answering before its
   * reply is read, is `UnavailableError` ("<peer> does not answer: ...",
   * or "<peer> did not answer within <timeoutMs> ms");
   * without it, the failure itself is thrown (a `TypeError`, as `fetch()`'s).
   */
  readonly peer?: string;
}

/**
 * Sends one request and answers the response, whatever its status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { httpRequest } from "./call.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) =>
 *   Response.json({ auth: req.headers.get("authorization"), type: req.headers.get("content-type"), body: await req.json() }));
 * const res = await httpRequest(`http://127.0.0.1:${server.addr.port}/x`, {
 *   method: "POST", token: "t", body: { n: 1 },
 * });
 * assert.deepEqual(await res.json(), { auth: "Bearer t", type: "application/json", body: { n: 1 } });
 * await server.shutdown();
 * ```
 */
export async function httpRequest(
  url: string | URL,
  options: HttpCallOptions = {},
): Promise<Response> {
  const ms = options.headTimeoutMs;
  if (ms === undefined) {
    return await answered(
      options.peer,
      () => agentFetch(url, requestInit(options)),
      options.timeoutMs,
      url,
    );
  }
  const head = new AbortController();
  const timer = setTimeout(
    () => head.abort(new DOMException(`No answer within ${ms} ms`, "TimeoutError")),
    ms,
  );
  const signal = options.signal ? AbortSignal.any([options.signal, head.signal]) : head.signal;
  try {
    return await answered(
      options.peer,
      () => agentFetch(url, requestInit({ ...options, signal })),
      options.timeoutMs ?? ms,
      url,
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends one request and answers its JSON (`undefined` for 204). An error
 * answer is `failure(status, text)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { httpJson } from "./call.ts";
 * import { UnavailableError } from "../errors.ts";
import { agentFetch } from "./agent.ts";
 * const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = (probe.addr as Deno.NetAddr).port;
 * probe.close();
 * await assert.rejects(
 *   httpJson(`http://127.0.0.1:${port}/v1/nodes`, { peer: "Node a" }, () => new Error("unused")),
 *   UnavailableError,
 * );
 * ```
 */
export async function httpJson<T>(
  url: string | URL,
  options: HttpCallOptions,
  failure: (status: number, text: string) => Error,
): Promise<T> {
  const { res, text } = await answered(
    options.peer,
    async () => {
      const res = await agentFetch(url, requestInit(options));
      return { res, text: await res.text() };
    },
    options.timeoutMs,
    url,
  );
  if (!res.ok) throw failure(res.status, text);
  if (res.status === 204) return undefined as T;
  return JSON.parse(text) as T;
}

/**
 * The `error` of a Strata error body (`{"error": {code, message, fields}}`),
 * for `errorFromBody()`; undefined when `text` is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorBodyOf } from "./call.ts";
 * assert.deepEqual(errorBodyOf('{"error":{"code":"gone","message":"Gone"}}'), { code: "gone", message: "Gone" });
 * assert.equal(errorBodyOf("<html>Bad gateway</html>"), undefined);
 * ```
 */
export function errorBodyOf(text: string): unknown {
  try {
    return (JSON.parse(text) as { error?: unknown } | null)?.error;
  } catch {
    // Not one of our error bodies.
    return undefined;
  }
}

/** The `fetch()`-style init of a call. */
function requestInit(options: HttpCallOptions): AgentRequestInit {
  const headers = new Headers(options.headers);
  if (options.accept !== undefined) headers.set("accept", options.accept);
  if (options.token !== undefined) headers.set("authorization", `Bearer ${options.token}`);
  let body: BodyInit | null = options.rawBody ?? null;
  if (options.body instanceof Uint8Array) {
    headers.set("content-type", "application/octet-stream");
    body = options.body as Uint8Array<ArrayBuffer>;
  } else if (options.body !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(options.body);
  }
  return {
    method: options.method ?? "GET",
    headers,
    body,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  };
}

/** Runs `call`; a failure is `UnavailableError` naming `peer` when one is given. */
async function answered<T>(
  peer: string | undefined,
  call: () => Promise<T>,
  timeoutMs: number | undefined,
  url: string | URL,
): Promise<T> {
  if (peer === undefined && timeoutMs === undefined) return await call();
  try {
    return await call();
  } catch (e) {
    // A deadline that passed is said so, peer or not.
    if (e instanceof DOMException && e.name === "TimeoutError" && timeoutMs !== undefined) {
      throw new UnavailableError(
        `${
          peer ?? `Server ${new URL(url).origin}`
        } did not answer within ${timeoutMs} ms: it may be stopped, overloaded or cut off; its log says which`,
        { cause: e, fields: { timeoutMs } },
      );
    }
    if (peer === undefined) throw e;
    throw new UnavailableError(`${peer} does not answer: ${(e as Error).message}`, { cause: e });
  }
}
