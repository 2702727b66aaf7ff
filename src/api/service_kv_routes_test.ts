import assert from "node:assert/strict";
import { Hono } from "hono";
import { decode, encode } from "@msgpack/msgpack";
import { errorResponse } from "./errors.ts";
import { mountServiceKvRoutes } from "./service_kv_routes.ts";
import { LocalMetaKv } from "../services/meta_kv.ts";
import { RemoteMetaKv } from "../services/remote_meta_kv.ts";

const MSGPACK = { useBigInt64: true };

/** A route's answer: an error, or entries, or a commit's outcome. */
interface Answer {
  readonly error: { readonly code: string; readonly message: string };
  readonly entries: readonly { readonly value: unknown }[];
  readonly ok?: boolean;
}

/** The routes over a KV in memory, and a caller answering status and decoded body. */
async function withRoutes(
  fn: (
    call: (op: string, body: unknown) => Promise<{ status: number; body: Answer }>,
    kv: Deno.Kv,
  ) => Promise<void>,
): Promise<void> {
  using kv = await Deno.openKv(":memory:");
  const app = new Hono();
  app.onError(errorResponse);
  mountServiceKvRoutes(app, { kv: new LocalMetaKv(kv), maxBodyBytes: 1 << 20 });
  await fn(async (op, body) => {
    const res = await app.request(`/v1/cluster/services/kv/${op}`, {
      method: "POST",
      headers: { "content-type": "application/msgpack", accept: "application/msgpack" },
      body: encode(body, MSGPACK) as Uint8Array<ArrayBuffer>,
    });
    const answer = decode(new Uint8Array(await res.arrayBuffer()), MSGPACK) as Answer;
    return { status: res.status, body: answer };
  }, kv);
}

Deno.test("Service KV routes refuse what KV would throw on with 400, and write nothing", async () => {
  await withRoutes(async (call, kv) => {
    const long = ["svc", "x", "k".repeat(2039)];
    const cases: [string, unknown, string][] = [
      [
        "commit",
        { mutations: [{ type: "set", key: long, value: 1 }], checks: [] },
        "Invalid service key: 2049 bytes, at most 2048",
      ],
      [
        "commit",
        { mutations: [{ type: "delete", key: long }], checks: [] },
        "Invalid service key: 2049 bytes, at most 2048",
      ],
      ["get", { keys: [long] }, "Invalid service key: 2049 bytes, at most 2048"],
      ["list", { prefix: long }, "Invalid service key: 2049 bytes, at most 2048"],
      [
        "commit",
        {
          mutations: [{ type: "set", key: ["svc", "x", "a"], value: new Uint8Array(65537) }],
          checks: [],
        },
        "Invalid mutation: its value takes 65537 bytes, at most 65536 (put larger values in a blob)",
      ],
      [
        "commit",
        {
          mutations: [{ type: "set", key: ["svc", "x", "a"], value: { s: "v".repeat(70000) } }],
          checks: [],
        },
        "Invalid mutation: its value takes 70012 bytes, at most 65536 (put larger values in a blob)",
      ],
      [
        "commit",
        { mutations: [], checks: [{ key: ["svc", "x", "a"], versionstamp: "zz" }] },
        "Invalid check: expected a versionstamp (20 hexadecimal digits) or null",
      ],
    ];
    for (const [op, body, message] of cases) {
      const res = await call(op, body);
      assert.equal(res.status, 400, message);
      assert.deepEqual([res.body.error.code, res.body.error.message], ["invalid_request", message]);
    }
    // The largest key and value KV takes are written.
    const largest = ["svc", "x", "k".repeat(2038)];
    const ok = await call("commit", {
      mutations: [{ type: "set", key: largest, value: new Uint8Array(65536) }],
      checks: [],
    });
    assert.deepEqual([ok.status, ok.body], [200, { ok: true }]);
    const held = [];
    for await (const e of kv.list({ prefix: ["svc"] })) held.push(e.key);
    assert.deepEqual(held, [largest]);
  });
});

Deno.test("Service KV list route answers an empty range, or a start past its prefix, with no entries", async () => {
  await withRoutes(async (call) => {
    await call("commit", {
      mutations: [1, 2, 3].map((i) => ({ type: "set", key: ["svc", "x", i], value: i })),
      checks: [],
    });
    const lists: [unknown, number[]][] = [
      [{ start: ["svc", "x", 3], end: ["svc", "x", 1] }, []],
      [{ prefix: ["svc", "x"], start: ["svc", "y"] }, []],
      [{ prefix: ["svc", "x"], start: ["svc", "a"] }, [1, 2, 3]],
      [{ prefix: ["svc", "x"], start: ["svc", "x", 2] }, [2, 3]],
    ];
    for (const [scan, values] of lists) {
      const res = await call("list", scan);
      assert.equal(res.status, 200, JSON.stringify(scan));
      assert.deepEqual(res.body.entries.map((e) => e.value), values);
    }
  });
});

Deno.test("RemoteMetaKv lists a range that holds nothing as empty", async () => {
  using kv = await Deno.openKv(":memory:");
  const app = new Hono();
  app.onError(errorResponse);
  mountServiceKvRoutes(app, { kv: new LocalMetaKv(kv), maxBodyBytes: 1 << 20 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  try {
    const remote = new RemoteMetaKv({ url: `http://127.0.0.1:${server.addr.port}` });
    const out = [];
    for await (
      const e of remote.list({
        start: ["svc", "x", 9],
        end: ["svc", "x", 1],
        limit: 10,
        reverse: false,
      })
    ) out.push(e);
    assert.deepEqual(out, []);
  } finally {
    await server.shutdown();
  }
});
