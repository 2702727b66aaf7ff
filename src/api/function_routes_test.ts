import assert from "node:assert/strict";
import { decode } from "@msgpack/msgpack";
import { FunctionService } from "../functions/service.ts";
import { PipelineService } from "../functions/pipelines.ts";
import { FunctionStore } from "../functions/store.ts";
import { SandboxPool } from "../functions/pool.ts";
import { openRegistry, type Registry } from "../registry/registry.ts";
import { Runtime } from "../runtime/runtime.ts";
import { openMemoryAndFile } from "../tiers/memory_and_file.ts";
import { createApp } from "./app.ts";
import type { FunctionRouteOptions } from "./function_routes.ts";
import { silentServer, within } from "../http/_testing.ts";

const SUM = `export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }";
export const output = "value";
export function run(input: { x: Float64Array }) { return input.x.reduce((a, b) => a + b, 0); }
`;

const DOUBLE = `export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }";
export const output = { description: "dataset { var x [4]float64 }" };
export function run(input: { x: Float64Array }) { return { x: input.x.map((v) => v * 2) }; }
`;

interface Harness {
  request: (path: string, init?: RequestInit) => Promise<Response>;
  registry: Registry;
  runtime: Runtime;
}

async function withApp(
  fn: (h: Harness) => Promise<void>,
  routes: Partial<FunctionRouteOptions> = {},
): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const registry = await openRegistry({ path: ":memory:" });
  const runtime = new Runtime({
    node: "n1",
    names: registry,
    tiers: await openMemoryAndFile({ node: "n1", dataDir: dir, memory: 1 << 20, file: 1 << 20 }),
  });
  const store = new FunctionStore(registry.kv);
  const pool = new SandboxPool({ spares: 0 });
  const functions = new FunctionService({ store, catalog: registry, runtime, pool });
  const pipelines = await PipelineService.open({ store, functions, catalog: registry, runtime });
  const app = createApp({
    maxBodyBytes: 64 * 1024,
    data: { runtime, catalog: registry, maxPayloadBytes: 1 << 20 },
    functions: { functions, pipelines, ...routes },
  });
  try {
    await registry.createDataset({
      name: "tiny",
      description: "dataset tiny { var x [4]float64 }",
    });
    await runtime.publish({
      dataset: "tiny",
      version: 1,
      fragment: "dataset",
      bindings: {},
      bytes: new Uint8Array(new Float64Array([1, 2, 3, 4]).buffer),
    });
    await fn({ request: async (p, i) => await app.request(p, i), registry, runtime });
  } finally {
    await pipelines.close();
    await pool.close();
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const source = (text: string, query = ""): [string, RequestInit] => [
  query,
  { method: "PUT", headers: { "content-type": "application/typescript" }, body: text },
];

const json = (body: unknown, method = "POST"): RequestInit => ({
  method,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

async function error(res: Response, status: number, code: string): Promise<string> {
  const body = await res.json();
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code);
  return body.error.message;
}

Deno.test("PUT /v1/functions/:name deploys a version; invoke runs it on a dataset", async () => {
  await withApp(async ({ request }) => {
    const [q, init] = source(SUM, "?alias=prod&timeMs=1000");
    const res = await request(`/v1/functions/sum${q}`, init);
    assert.equal(res.status, 201);
    const v = await res.json();
    assert.deepEqual([v.name, v.version, v.created, v.limits.timeMs], ["sum", 1, true, 1000]);
    const again = await request(`/v1/functions/sum${q}`, source(SUM, q)[1]);
    assert.equal(again.status, 200);
    assert.equal((await again.json()).created, false);
    const inv = await request("/v1/functions/sum/invoke", json({ dataset: "tiny", use: "prod" }));
    assert.equal(inv.status, 200);
    const body = await inv.json();
    assert.deepEqual([body.value, body.source, body.function.version, body.calls], [
      10,
      { dataset: "tiny", version: 1 },
      1,
      1,
    ]);
    const msgpack = await request("/v1/functions/sum/invoke", {
      ...json({ dataset: "tiny" }),
      headers: { "content-type": "application/json", accept: "application/msgpack" },
    });
    assert.equal(
      (decode(new Uint8Array(await msgpack.arrayBuffer())) as { value: number }).value,
      10,
    );
    const list = await (await request("/v1/functions")).json();
    assert.deepEqual(list.functions, [{ name: "sum", latest: 1, aliases: { latest: 1, prod: 1 } }]);
    const one = await (await request("/v1/functions/sum/versions/1")).json();
    assert.equal(one.source, SUM);
  });
});

Deno.test("POST /v1/functions/:name/invoke answers a dataset output as bytes with its layout", async () => {
  await withApp(async ({ request }) => {
    const res = await request(
      "/v1/functions/double",
      json({ source: DOUBLE, aliases: ["prod"], limits: { outputBytes: 4096 } }, "PUT"),
    );
    assert.equal(res.status, 201);
    const inv = await request("/v1/functions/double/invoke", json({ dataset: "tiny" }));
    assert.equal(inv.headers.get("content-type"), "application/octet-stream");
    assert.deepEqual([...new Float64Array(await inv.arrayBuffer())], [2, 4, 6, 8]);
    assert.equal(JSON.parse(inv.headers.get("strata-layout")!).byteLength, 32);
    assert.equal(JSON.parse(inv.headers.get("strata-function")!).function.name, "double");
  });
});

Deno.test("Function routes map refusals and failures to their statuses", async () => {
  await withApp(async ({ request }) => {
    const msg = await error(
      await request("/v1/functions/sum", {
        method: "PUT",
        headers: { "content-type": "image/png" },
        body: "x",
      }),
      415,
      "unsupported_media_type",
    );
    assert.match(msg, /found 'image\/png'/);
    await error(
      await request("/v1/functions/sum", json({ code: SUM }, "PUT")),
      400,
      "invalid_request",
    );
    const refused = await error(
      await request(
        "/v1/functions/norun",
        source(SUM.replace("export function run", "function run"))[1],
      ),
      400,
      "invalid_function",
    );
    assert.equal(
      refused,
      "Cannot deploy function 'norun': declaration failed: expected an exported function 'run', found undefined",
    );
    await error(await request("/v1/functions/nope"), 404, "not_found");
    await error(
      await request("/v1/functions/nope/invoke", json({ dataset: "tiny" })),
      404,
      "not_found",
    );
    await request(
      "/v1/functions/throws",
      source(
        SUM.replace("return input", "if (input.x[0] === 1) throw new Error('One'); return input"),
      )[1],
    );
    assert.equal(
      await error(
        await request("/v1/functions/throws/invoke", json({ dataset: "tiny" })),
        422,
        "function_failed",
      ),
      "Function 'throws' version 1 failed: Error: One",
    );
    await request(
      "/v1/functions/spin?timeMs=100",
      source(SUM.replace("return input", "if (input.x[0] === 1) for (;;) {} return input"))[1],
    );
    assert.match(
      await error(
        await request("/v1/functions/spin/invoke", json({ dataset: "tiny" })),
        422,
        "limit_exceeded",
      ),
      /exceeded its time limit: ran past its limit of 100 ms/,
    );
    assert.equal(
      await error(
        await request("/v1/functions/spin/invoke", json({ dataset: "tiny", each: "yes" })),
        400,
        "invalid_request",
      ),
      "Invalid invoke body: expected 'each' to be true or false",
    );
    assert.equal(
      await error(
        await request("/v1/functions/spin/aliases/prod", json({ version: "1" }, "PUT")),
        400,
        "invalid_request",
      ),
      'Invalid alias body: expected {"version": N} with N >= 1, found "1"',
    );
    await error(await request("/v1/functions/spin/versions/0"), 400, "invalid_request");
    await error(await request("/v1/datasets/tiny/versions/1/lineage"), 404, "not_found");
  });
});

Deno.test("Pipeline routes create, show and delete pipelines; results and lineage are served", async () => {
  await withApp(async ({ request, runtime }) => {
    await request("/v1/functions/sum", source(SUM)[1]);
    await request("/v1/functions/double", source(DOUBLE)[1]);
    assert.equal(
      (await request("/v1/pipelines/total", json({ source: "tiny", function: "sum" }, "PUT")))
        .status,
      201,
    );
    assert.equal(
      (await request(
        "/v1/pipelines/twice",
        json({ source: "tiny", function: "double", output: "tiny2" }, "PUT"),
      )).status,
      201,
    );
    await runtime.publish({
      dataset: "tiny",
      version: 2,
      fragment: "dataset",
      bindings: {},
      bytes: new Uint8Array(new Float64Array([5, 5, 5, 5]).buffer),
    });
    // Runs happen after the commit, off the producer's path: wait for both.
    for (const name of ["twice", "total"]) {
      let state = "";
      for (let i = 0; i < 500 && state !== "succeeded"; i++) {
        await new Promise((r) => setTimeout(r, 10));
        state = (await (await request(`/v1/pipelines/${name}`)).json()).runs[0]?.state;
      }
      assert.equal(state, "succeeded", name);
    }
    const result = await (await request("/v1/pipelines/total/results/latest")).json();
    assert.deepEqual([result.version, result.value, result.lineage.function.name], [2, 20, "sum"]);
    const lineage = await (await request("/v1/datasets/tiny2/versions/2/lineage")).json();
    assert.deepEqual(lineage.source, { dataset: "tiny", version: 2 });
    const out = await request("/v1/datasets/tiny2/versions/2/fragments/dataset");
    assert.deepEqual([...new Float64Array(await out.arrayBuffer())], [10, 10, 10, 10]);
    const all = await (await request("/v1/pipelines")).json();
    assert.deepEqual(all.pipelines.map((p: { name: string }) => p.name), ["total", "twice"]);
    assert.equal((await request("/v1/pipelines/total", { method: "DELETE" })).status, 204);
    await error(await request("/v1/pipelines/total"), 404, "not_found");
    await error(
      await request(
        "/v1/pipelines/x",
        json({ source: "tiny", function: "sum", retries: 99 }, "PUT"),
      ),
      400,
      "invalid_request",
    );
  });
});

Deno.test("Management passed on to a name server that does not answer fails with a 503 by its deadline", async () => {
  await using silent = silentServer();
  const app = createApp({
    maxBodyBytes: 64 * 1024,
    functions: { keeper: silent.url, forwardTimeoutMs: 200 },
  });
  const res = await within(Promise.resolve(app.request("/v1/functions")), 10_000);
  const message = await error(res, 503, "unavailable");
  assert.match(message, new RegExp(`Name server ${silent.url} did not answer within 200 ms`));
});

Deno.test("An invocation passed on to a runtime that does not answer fails with a 503 after its wait and deadline", async () => {
  await using silent = silentServer();
  await withApp(async (h) => {
    const res = await within(
      h.request("/v1/functions/sum/invoke", json({ dataset: "tiny", wait: 300 })),
      10_000,
    );
    const message = await error(res, 503, "unavailable");
    // The deadline is the invocation's wait plus the time it may run there.
    assert.match(message, new RegExp(`Runtime ${silent.url} did not answer within 500 ms`));
  }, { invokeAt: () => Promise.resolve(silent.url), invokeTimeoutMs: 200 });
});
