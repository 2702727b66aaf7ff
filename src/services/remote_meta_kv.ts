/**
 * A service's metadata from a runtime in its own process: the keys live in
 * the name server's KV, reached over `POST /v1/cluster/services/kv/*`
 * (msgpack), where commits of all runtimes share atomics.
 *
 * @module
 */

import { decode } from "@msgpack/msgpack";
import { errorFromBody, InternalError } from "../errors.ts";
import { httpRequest } from "../http/call.ts";
import type { Check, Mutation } from "../registry/group_commit.ts";
import type { MetaKv, MetaKvEntry, MetaKvScan } from "./meta_kv.ts";
import { msgpackBody } from "../http/msgpack_body.ts";

/** Options of a `RemoteMetaKv`. */
export interface RemoteMetaKvOptions {
  /** Base URL of the name server keeping service metadata. */
  readonly url: string;
  /** Its bearer token, when it requires one. */
  readonly token?: string;
  /** Deadline of each request in ms (default 30 000). */
  readonly timeoutMs?: number;
}

/** Entries asked for per list request (the name server answers at most 1000). */
const PAGE = 1000;

/**
 * `MetaKv` over HTTP to the name server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { mountServiceKvRoutes } from "../api/service_kv_routes.ts";
 * import { LocalMetaKv } from "./meta_kv.ts";
 * import { RemoteMetaKv } from "./remote_meta_kv.ts";
 * const kv = await Deno.openKv(":memory:");
 * const app = new Hono();
 * mountServiceKvRoutes(app, { kv: new LocalMetaKv(kv), maxBodyBytes: 1 << 20 });
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
 * const remote = new RemoteMetaKv({ url: `http://127.0.0.1:${server.addr.port}` });
 * assert.equal(await remote.commit([{ type: "set", key: ["svc", "n", "a"], value: new Uint8Array([1]) }], []), true);
 * assert.deepEqual((await remote.getMany([["svc", "n", "a"]]))[0]?.value, new Uint8Array([1]));
 * await server.shutdown();
 * kv.close();
 * ```
 */
export class RemoteMetaKv implements MetaKv {
  readonly #url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  /** A client of the name server at `options.url`; nothing is sent yet. */
  constructor(options: RemoteMetaKvOptions) {
    this.#url = options.url.replace(/\/+$/, "");
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  async getMany(keys: readonly Deno.KvKey[]): Promise<MetaKvEntry[]> {
    return (await this.#call<{ entries: MetaKvEntry[] }>("get", { keys })).entries;
  }

  async *list(scan: MetaKvScan): AsyncIterable<{ key: Deno.KvKey; value: unknown }> {
    let left = scan.limit;
    let start = scan.start;
    let end = scan.end;
    while (left > 0) {
      const limit = Math.min(left, PAGE);
      const { entries } = await this.#call<{ entries: { key: Deno.KvKey; value: unknown }[] }>(
        "list",
        { prefix: scan.prefix, start, end, limit, reverse: scan.reverse },
      );
      yield* entries;
      left -= entries.length;
      if (entries.length < limit) return;
      const last = entries.at(-1)!.key;
      // Every key after `last` sorts at or after `last` with one more (empty) part.
      if (scan.reverse) end = last;
      else start = [...last, new Uint8Array(0)];
    }
  }

  async commit(mutations: readonly Mutation[], checks: readonly Check[]): Promise<boolean> {
    return (await this.#call<{ ok: boolean }>("commit", { mutations, checks })).ok;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  async #call<T>(op: string, body: unknown): Promise<T> {
    const res = await httpRequest(`${this.#url}/v1/cluster/services/kv/${op}`, {
      method: "POST",
      peer: `Name server ${this.#url}`,
      ...(this.#token === undefined ? {} : { token: this.#token }),
      headers: { "content-type": "application/msgpack" },
      rawBody: msgpackBody(body, { ignoreUndefined: true, useBigInt64: true }),
      timeoutMs: this.#timeoutMs,
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (!res.ok) {
      let error: unknown;
      try {
        error = (JSON.parse(new TextDecoder().decode(bytes)) as { error?: unknown }).error;
      } catch {
        error = undefined;
      }
      throw errorFromBody(error) ??
        new InternalError(`Name server ${this.#url} answered ${res.status} to service KV ${op}`, {
          fields: { status: res.status },
        });
    }
    return decode(bytes, { useBigInt64: true }) as T;
  }
}
