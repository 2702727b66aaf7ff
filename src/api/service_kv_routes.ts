/**
 * The name server's side of the kit's metadata for runtimes in other
 * processes: `POST /v1/cluster/services/kv/get`, `.../list` and
 * `.../commit`, msgpack both ways, over the keys under `["svc", ...]` of
 * the registry's KV only. Commits of concurrent runtimes share atomics
 * (`LocalMetaKv`, group commit).
 *
 * @module
 */

import type { Hono } from "hono";
import { decode } from "@msgpack/msgpack";
import { serialize } from "node:v8";
import { InvalidRequestError } from "../errors.ts";
import { checkServiceKey, type MetaKv } from "../services/meta_kv.ts";
import { KV_LIMITS } from "../services/kv_limits.ts";
import { readBoundedBytes } from "./body.ts";
import { msgpackBody } from "../http/msgpack_body.ts";

/** Options of the service KV routes. */
export interface ServiceKvRouteOptions {
  /** The name server's service metadata. */
  readonly kv: MetaKv;
  /** Largest request body. */
  readonly maxBodyBytes: number;
}

/** Entries one list request answers at most; the runtime asks again from the last key. */
const LIST_PAGE = 1000;

/**
 * Mounts the service KV routes on `app`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { decode, encode } from "@msgpack/msgpack";
 * import { LocalMetaKv } from "../services/meta_kv.ts";
 * import { mountServiceKvRoutes } from "./service_kv_routes.ts";
 * const kv = await Deno.openKv(":memory:");
 * const app = new Hono();
 * mountServiceKvRoutes(app, { kv: new LocalMetaKv(kv), maxBodyBytes: 1 << 20 });
 * const post = (op: string, body: unknown) => app.request(`/v1/cluster/services/kv/${op}`, {
 *   method: "POST", headers: { "content-type": "application/msgpack" }, body: encode(body),
 * });
 * const set = await post("commit", { mutations: [{ type: "set", key: ["svc", "n", "a"], value: 1 }], checks: [] });
 * assert.deepEqual(decode(new Uint8Array(await set.arrayBuffer())), { ok: true });
 * const got = await post("get", { keys: [["svc", "n", "a"]] });
 * assert.equal((decode(new Uint8Array(await got.arrayBuffer())) as { entries: { value: number }[] }).entries[0]?.value, 1);
 * kv.close();
 * ```
 */
export function mountServiceKvRoutes(app: Hono, o: ServiceKvRouteOptions): void {
  const body = async (req: Request): Promise<Record<string, unknown>> => {
    const type = req.headers.get("content-type") ?? "";
    if (!type.startsWith("application/msgpack")) {
      throw new InvalidRequestError(
        `Invalid service KV request: expected application/msgpack, found '${type || "none"}'`,
      );
    }
    let v: unknown;
    try {
      v = decode(await readBoundedBytes(req, o.maxBodyBytes), { useBigInt64: true });
    } catch (e) {
      throw new InvalidRequestError(`Invalid msgpack body: ${(e as Error).message}`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new InvalidRequestError("Invalid service KV request: expected a map");
    }
    return v as Record<string, unknown>;
  };
  const answer = (data: unknown) =>
    new Response(msgpackBody(data, { useBigInt64: true }), {
      headers: { "content-type": "application/msgpack" },
    });
  const keys = (v: unknown, field: string): Deno.KvKey[] => {
    if (!Array.isArray(v)) {
      throw new InvalidRequestError(`Invalid '${field}': expected a list of keys`, {
        fields: { field },
      });
    }
    return v.map(checkServiceKey);
  };
  app.post("/v1/cluster/services/kv/get", async (c) => {
    const ks = keys((await body(c.req.raw)).keys, "keys");
    if (ks.length > 10) {
      throw new InvalidRequestError(`Too many keys: ${ks.length}, at most 10`, {
        fields: { keys: ks.length, limit: 10 },
      });
    }
    return answer({ entries: await o.kv.getMany(ks) });
  });
  app.post("/v1/cluster/services/kv/list", async (c) => {
    const r = await body(c.req.raw);
    const one = (f: string) => r[f] === undefined || r[f] === null ? undefined : keys([r[f]], f)[0];
    const prefix = one("prefix");
    const start = one("start");
    const end = one("end");
    if (prefix === undefined && (start === undefined || end === undefined)) {
      throw new InvalidRequestError("Invalid scan: expected a prefix, or a start and an end");
    }
    const limit = typeof r.limit === "number" && Number.isInteger(r.limit) && r.limit > 0
      ? Math.min(r.limit, LIST_PAGE)
      : LIST_PAGE;
    const entries: { key: Deno.KvKey; value: unknown }[] = [];
    for await (
      const e of o.kv.list({
        ...(prefix === undefined ? {} : { prefix }),
        ...(start === undefined ? {} : { start }),
        ...(end === undefined ? {} : { end }),
        limit,
        reverse: r.reverse === true,
      })
    ) entries.push({ key: e.key, value: e.value });
    return answer({ entries });
  });
  app.post("/v1/cluster/services/kv/commit", async (c) => {
    const r = await body(c.req.raw);
    if (!Array.isArray(r.mutations) || !Array.isArray(r.checks)) {
      throw new InvalidRequestError("Invalid commit: expected lists 'mutations' and 'checks'");
    }
    const mutations = r.mutations.map((m: { type?: unknown; key?: unknown; value?: unknown }) => {
      const key = checkServiceKey(m?.key);
      if (m.type === "delete") return { type: "delete" as const, key };
      if (m.type !== "set" || m.value === undefined) {
        throw new InvalidRequestError("Invalid mutation: expected a set with a value, or a delete");
      }
      const size = valueBytes(m.value);
      if (size > KV_LIMITS.maxValueBytes) {
        throw new InvalidRequestError(
          `Invalid mutation: its value takes ${size} bytes, at most ${KV_LIMITS.maxValueBytes} (put larger values in a blob)`,
          { fields: { valueBytes: size, limit: KV_LIMITS.maxValueBytes } },
        );
      }
      return { type: "set" as const, key, value: m.value };
    });
    const checks = r.checks.map((k: { key?: unknown; versionstamp?: unknown }) => {
      const v = k?.versionstamp;
      if (v !== null && (typeof v !== "string" || !/^[0-9a-f]{20}$/.test(v))) {
        throw new InvalidRequestError(
          "Invalid check: expected a versionstamp (20 hexadecimal digits) or null",
        );
      }
      return { key: checkServiceKey(k.key), versionstamp: v };
    });
    try {
      return answer({ ok: await o.kv.commit(mutations, checks) });
    } catch (e) {
      if (e instanceof RangeError) throw new InvalidRequestError(e.message);
      throw e;
    }
  });
}

/** A value's size as Deno KV stores it: bytes as they are, anything else serialised by V8. */
function valueBytes(value: unknown): number {
  return value instanceof Uint8Array ? value.byteLength : serialize(value).byteLength;
}
