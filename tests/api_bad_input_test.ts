/**
 * Bad input answered with a specific 4xx, before anything is compiled or
 * stored, on a whole app.
 */
import assert from "node:assert/strict";
import { decode, encode } from "@msgpack/msgpack";
import { KEEP, TOKEN, withApiApp } from "./api_harness.ts";

const auth = { authorization: `Bearer ${TOKEN}` };

const json = (body: unknown, method = "POST"): RequestInit => ({
  method,
  headers: { "content-type": "application/json", ...auth },
  body: JSON.stringify(body),
});

async function error(res: Response, status: number, code: string): Promise<string> {
  const body = await res.json();
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code, body.error.message);
  return body.error.message;
}

Deno.test("a create with a 300 KB description is refused by its size, before it compiles", async () => {
  await withApiApp(async ({ request }) => {
    // Valid text throughout: compiling it would take long and succeed.
    const vars = Array.from({ length: 15_000 }, (_, i) => `var v${i} [4]float64`).join("\n");
    const description = `dataset big {\n${vars}\n}`;
    assert.ok(description.length > 300_000);
    const started = performance.now();
    const msg = await error(
      await request("/v1/datasets", json({ name: "big", description })),
      400,
      "invalid_request",
    );
    assert.equal(
      msg,
      `Description too large: expected at most 32768 bytes, received ${description.length}`,
    );
    assert.ok(performance.now() - started < 500, "refused without compiling");
    const batch = await request(
      "/v1/batch",
      json({ ops: [{ op: "create", name: "big", description }] }),
    );
    assert.match((await batch.json()).results[0].error.message, /^Description too large/);
    await error(await request("/v1/datasets/big"), 404, "not_found");
  });
});

Deno.test("a body that is null or not an object is 400 on the cluster routes", async () => {
  await withApiApp(async ({ request }) => {
    const cases: [string, string][] = [
      [
        "/v1/cluster/lookup",
        "Invalid lookup: expected {dataset, version, fragment, bindings?, waitMs?}, found null",
      ],
      [
        "/v1/cluster/nodes",
        "Invalid node registration: expected {id, url, wire?, tiers?, leaseMs?}, found null",
      ],
      [
        "/v1/cluster/publish",
        "Invalid publish: expected a copy's record {dataset, version, fragment, bindings, node, tier, byteLength, checksum}, found null",
      ],
      [
        "/v1/cluster/nodes/n1/renew",
        "Invalid lease renewal: expected {leaseMs?, tiers?}, found null",
      ],
      ["/v1/cluster/drop", "Invalid drop: expected {copy}, found null"],
      ["/v1/cluster/releases", "Invalid release poll: expected {node, after, wait?}, found null"],
    ];
    for (const [path, message] of cases) {
      for (const body of ["null", "[]", "7", '"x"']) {
        const res = await request(path, {
          method: "POST",
          headers: { "content-type": "application/json", ...auth },
          body,
        });
        const msg = await error(res, 400, "invalid_request");
        if (body === "null") assert.equal(msg, message);
      }
    }
    const lookup = await request(
      "/v1/cluster/lookup",
      json({ dataset: KEEP, version: "latest", fragment: "dataset", bindings: [] }),
    );
    assert.match(await error(lookup, 400, "invalid_request"), /^Invalid lookup: expected bindings/);
  });
});

Deno.test("names and values past Deno KV's limits are 400 naming the limit", async () => {
  await withApiApp(async ({ request }) => {
    const long = "n".repeat(3000);
    for (
      const [path, init] of [
        [`/v1/functions/${long}`, { headers: auth }],
        [`/v1/functions/${long}`, { method: "DELETE", headers: auth }],
        [`/v1/functions/sum/aliases/${long}`, json({ version: 1 }, "PUT")],
        [`/v1/pipelines/${long}`, { headers: auth }],
        [`/v1/datasets/${long}/versions/1/lineage`, {}],
        ["/v1/datasets", json({ name: long, description: "dataset { var x float64 }" })],
        ["/v1/cluster/nodes", json({ id: long, url: "http://127.0.0.1:1" })],
      ] as [string, RequestInit][]
    ) {
      const msg = await error(await request(path, init), 400, "invalid_request");
      assert.match(msg, /name 'n{140}\.\.\.' \(3000 characters\)/, path.slice(0, 40));
    }
    const url = `http://127.0.0.1:1/${"u".repeat(70 * 1024)}`;
    assert.equal(
      await error(
        await request("/v1/cluster/nodes", json({ id: "n2", url })),
        400,
        "invalid_request",
      ),
      `Invalid url of node 'n2' 'http://127.0.0.1:1/uuuuuuuuuuuuu...': expected 1 to 2048 characters, found ${url.length}`,
    );
    const tier = { name: "t".repeat(70 * 1024), capacity: 1 };
    await error(
      await request("/v1/cluster/nodes", json({ id: "n2", url: "http://x", tiers: [tier] })),
      400,
      "invalid_request",
    );
    const record = {
      dataset: KEEP,
      version: 2,
      fragment: "dataset",
      bindings: {},
      node: "n2",
      tier: "m".repeat(70 * 1024),
      byteLength: 32,
      checksum: 0,
    };
    assert.match(
      await error(await request("/v1/cluster/publish", json(record)), 400, "invalid_request"),
      /^Invalid tier name 'm{32}\.\.\.': expected 1 to 128 characters/,
    );
    const binding = { ...record, tier: "memory", bindings: { [long]: 1 } };
    await error(await request("/v1/cluster/publish", json(binding)), 400, "invalid_request");
    const pipeline = { source: KEEP, function: "sum", args: { blob: "x".repeat(70 * 1024) } };
    assert.match(
      await error(await request("/v1/pipelines/p", json(pipeline, "PUT")), 400, "invalid_request"),
      /^Invalid pipeline 'p': expected at most 32768 bytes of JSON/,
    );
    // Nothing was registered or stored.
    const versions = await (await request(`/v1/datasets/${KEEP}/versions`)).json();
    assert.deepEqual(versions.versions.map((v: { version: number }) => v.version), [1]);
    assert.deepEqual((await (await request("/v1/cluster/nodes")).json()).nodes, []);
    assert.deepEqual((await (await request("/v1/pipelines")).json()).pipelines, []);
  });
});

Deno.test("release notices: a GET only reads, a POST with the token acknowledges", async () => {
  await withApiApp(async ({ request, releases }) => {
    const copy = {
      dataset: "d",
      version: 1,
      fragment: "dataset",
      bindings: {},
      node: "n2",
      tier: "memory",
      byteLength: 8,
      checksum: 0,
    };
    releases.push([copy]);
    const read = async () => await (await request("/v1/cluster/releases?node=n2&after=0")).json();
    const first = await read();
    assert.deepEqual(first.copies, [copy]);
    // Reading with `after` past the notice, without the token, acknowledges nothing.
    await (await request(`/v1/cluster/releases?node=n2&after=${first.seq}`)).body?.cancel();
    assert.deepEqual((await read()).copies, [copy]);
    const ack = { method: "POST", body: JSON.stringify({ node: "n2", after: first.seq }) };
    const type = { "content-type": "application/json" };
    await error(
      await request("/v1/cluster/releases", { ...ack, headers: type }),
      401,
      "unauthorized",
    );
    assert.deepEqual((await read()).copies, [copy]);
    const acked = await request("/v1/cluster/releases", {
      ...ack,
      headers: { ...type, authorization: `bearer ${TOKEN}` },
    });
    assert.equal(acked.status, 200);
    assert.deepEqual((await acked.json()).copies, []);
    assert.deepEqual((await read()).copies, []);
    // A node never heard of reads an empty batch, and is not remembered.
    assert.deepEqual((await (await request("/v1/cluster/releases?node=zz")).json()).copies, []);
  });
});

Deno.test("the bearer scheme is matched case-insensitively, the token exactly", async () => {
  await withApiApp(async ({ request }) => {
    for (
      const [header, status] of [
        [`Bearer ${TOKEN}`, 404],
        [`bearer ${TOKEN}`, 404],
        [`BEARER ${TOKEN}`, 404],
        [`Bearer ${TOKEN.toUpperCase()}`, 401],
        [`Basic ${TOKEN}`, 401],
        [TOKEN, 401],
      ] as const
    ) {
      const res = await request("/v1/datasets/nope", {
        method: "DELETE",
        headers: { authorization: header },
      });
      assert.equal(res.status, status, header);
      await res.body?.cancel();
    }
  });
});

Deno.test("errors come back in msgpack to a client that accepts msgpack; describe takes msgpack", async () => {
  await withApiApp(async ({ request }) => {
    const res = await request("/v1/datasets/nope", { headers: { accept: "application/msgpack" } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("content-type"), "application/msgpack");
    const body = decode(new Uint8Array(await res.arrayBuffer())) as { error: { code: string } };
    assert.equal(body.error.code, "not_found");
    const route = await request("/v1/nope", { headers: { accept: "application/msgpack" } });
    assert.equal(route.headers.get("content-type"), "application/msgpack");
    await route.body?.cancel();
    const text = "dataset d { var x [4]float64 }";
    const described = await (await request("/v1/describe", {
      method: "POST",
      headers: { "content-type": "text/plain", ...auth },
      body: text,
    })).json();
    const packed = await request("/v1/describe", {
      method: "POST",
      headers: { "content-type": "application/msgpack", accept: "application/msgpack", ...auth },
      body: encode(described.description) as Uint8Array<ArrayBuffer>,
    });
    assert.equal(packed.status, 200);
    const out = decode(new Uint8Array(await packed.arrayBuffer())) as { layout: unknown };
    assert.deepEqual(out.layout, described.layout);
  });
});

Deno.test("waits past their bound are 400; an attach within it waits", async () => {
  await withApiApp(async ({ request }) => {
    const path = `/v1/datasets/${KEEP}/versions/2/fragments/dataset`;
    assert.equal(
      await error(await request(`${path}?wait=51`), 400, "invalid_request"),
      "Query parameter 'wait' must be from 0 to 50 ms, found 51",
    );
    await error(await request(`${path}?wait=20`), 408, "timeout");
    assert.match(
      await error(
        await request("/v1/functions/sum/invoke", json({ dataset: KEEP, wait: 51 })),
        400,
        "invalid_request",
      ),
      /'wait' to be milliseconds from 0 to 50/,
    );
  });
});
