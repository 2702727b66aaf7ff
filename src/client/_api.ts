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

  /** Calls `url` (the server, without `/v1`), with `token` when there is one. */
  constructor(url: string, token?: string) {
    this.base = url.replace(/\/+$/, "") + "/v1";
    this.#token = token;
  }

  /** The options of every call: JSON answers, and the token when there is one. */
  options(): HttpCallOptions {
    return {
      accept: "application/json",
      ...(this.#token === undefined ? {} : { token: this.#token }),
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
