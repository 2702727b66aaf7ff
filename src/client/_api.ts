/**
 * How the typed clients call one server: its `/v1` base, the token, and
 * JSON calls whose errors come back as the server's error classes.
 *
 * @module
 */

import { type HttpCallOptions, httpJson } from "../http/call.ts";
import { errorOfAnswer } from "./errors.ts";

/** Calls to one server's API, shared by the data and the functions client. */
export class ApiCalls {
  /** The server's URL with `/v1`. */
  readonly base: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number | undefined;

  /**
   * Calls `url` (the server, without `/v1`), with `token` when there is
   * one; each call fails once unanswered for `timeoutMs` (none when
   * undefined).
   */
  constructor(url: string, token?: string, timeoutMs?: number) {
    if (timeoutMs !== undefined && !(Number.isSafeInteger(timeoutMs) && timeoutMs >= 1)) {
      throw new RangeError(`Invalid timeoutMs: expected an integer >= 1, found ${timeoutMs}`);
    }
    this.base = url.replace(/\/+$/, "") + "/v1";
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }

  /** Each call's deadline beyond its wait, ms; undefined when calls have none. */
  get timeoutMs(): number | undefined {
    return this.#timeoutMs;
  }

  /**
   * The options of a call: JSON answers, the token when there is one, and
   * the deadline when one is set, plus `waitMs` the call asks the server
   * to wait (`null`: no deadline, a stream that lasts).
   */
  options(waitMs: number | null = 0): HttpCallOptions {
    return {
      accept: "application/json",
      ...(this.#token === undefined ? {} : { token: this.#token }),
      ...(this.#timeoutMs === undefined || waitMs === null
        ? {}
        : { timeoutMs: this.#timeoutMs + waitMs }),
    };
  }

  /** A JSON call to `path` under the base; a failure as the server's error class. */
  json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return httpJson<T>(
      this.base + path,
      { ...this.options(), method, ...(body === undefined ? {} : { body }) },
      errorOfAnswer,
    );
  }
}
