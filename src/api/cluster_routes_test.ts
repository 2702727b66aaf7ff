import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { createApp } from "./app.ts";
import { NodeBook } from "../cluster/node_book.ts";
import { ReleaseLog } from "../cluster/release_log.ts";
import { openRegistry, type Registry } from "../registry/registry.ts";
import { wholeCopy } from "../registry/_testing.ts";

async function withApp(
  fn: (app: ReturnType<typeof createApp>, registry: Registry) => Promise<void>,
) {
  await using registry = await openRegistry({ path: ":memory:" });
  const app = createApp({
    maxBodyBytes: 1 << 20,
    data: { catalog: registry, maxPayloadBytes: 1 << 20 },
    cluster: { registry, releases: new ReleaseLog(), nodes: new NodeBook(registry) },
  });
  await fn(app, registry);
}

const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** A publish request of node `a`'s copy of the whole of version `version` of `d` (2 float64). */
const copyOfD = (version: number) => json(wholeCopy("d", version, 16));

/** Creates dataset `d` (2 float64); returns the versions committed from now on, in order. */
async function datasetD(app: ReturnType<typeof createApp>, registry: Registry): Promise<number[]> {
  await (await app.request(
    "/v1/datasets",
    json({ name: "d", description: "dataset { var x [2]float64 }" }),
  )).body?.cancel();
  const committed: number[] = [];
  registry.onCommit((_d, v) => committed.push(v));
  return committed;
}

Deno.test("cluster routes answer bad queries with 400 naming the parameter", async () => {
  await withApp(async (app) => {
    const noNode = await app.request("/v1/cluster/releases?after=0");
    assert.equal(noNode.status, 400);
    assert.equal(
      (await noNode.json()).error.message,
      "Missing query parameter 'node': whose releases to read",
    );
    const badWait = await app.request("/v1/cluster/datasets/d/wait?atLeast=x");
    assert.equal(badWait.status, 400);
    assert.equal(
      (await badWait.json()).error.message,
      "Query parameter 'atLeast' must be an integer, found 'x'",
    );
  });
});

Deno.test("cluster routes register, renew and list nodes, and show a lapsed one as down", async () => {
  await withApp(async (app) => {
    const node = { id: "a", url: "http://127.0.0.1:1", wire: "127.0.0.1:2", tiers: [] };
    assert.equal(
      (await app.request("/v1/cluster/nodes", json({ ...node, leaseMs: 60_000 }))).status,
      200,
    );
    const renewed = await app.request("/v1/cluster/nodes/a/renew", json({ leaseMs: 60_000 }));
    assert.equal(renewed.status, 200);
    const unknown = await app.request("/v1/cluster/nodes/zz/renew", json({}));
    assert.equal(unknown.status, 404);
    await (await app.request("/v1/cluster/nodes", json({ ...node, id: "b", leaseMs: 1 }))).body
      ?.cancel();
    let states: Record<string, string> = {};
    while (states.b !== "down") {
      const list = (await (await app.request("/v1/nodes")).json()).nodes as {
        id: string;
        state: string;
      }[];
      states = Object.fromEntries(list.map((n) => [n.id, n.state]));
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(states, { a: "up", b: "down" });
  });
});

Deno.test("a name server refuses fragment payloads and still commits versions", async () => {
  await withApp(async (app) => {
    await (await app.request(
      "/v1/datasets",
      json({ name: "d", description: "dataset { var x [2]float64 }" }),
    )).body?.cancel();
    const put = await app.request("/v1/datasets/d/versions/1/fragments/dataset", {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array(16),
    });
    assert.equal(put.status, 404);
    assert.match((await put.json()).error.message, /^This is a name server/);
    const published = await app.request("/v1/cluster/publish", copyOfD(1));
    assert.deepEqual(await published.json(), { committed: true });
    const lookup = await app.request(
      "/v1/cluster/lookup",
      json({ dataset: "d", version: "latest", fragment: "dataset", bindings: {} }),
    );
    const found = await lookup.json();
    assert.equal(found.version, 1);
    assert.equal(found.sources[0].node, "a");
  });
});

Deno.test("POST /v1/cluster/held tells which copies are registered to their node", async () => {
  await using registry = await openRegistry({ path: ":memory:" });
  const app = createApp({
    maxBodyBytes: 1 << 20,
    cluster: { registry, releases: new ReleaseLog(), nodes: new NodeBook(registry) },
  });
  await registry.createDataset({ name: "t", description: "dataset { var x [4]float64 }" });
  const copy = { dataset: "t", version: 1, fragment: "dataset", bindings: {}, node: "a" };
  await registry.publishFragment({ ...copy, tier: "memory", byteLength: 32, checksum: 0 });
  const res = await app.request(
    "/v1/cluster/held",
    json({ copies: [copy, { ...copy, node: "b" }, { ...copy, dataset: "nope" }] }),
  );
  assert.deepEqual(await res.json(), { held: [true, false, false] });
  const bad = await app.request("/v1/cluster/held", json({ copies: [1] }));
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /^Invalid held query/);
});

Deno.test("a lookup with waitMs answers once the version commits, and 408 when none does in time", async () => {
  await withApp(async (app) => {
    await (await app.request(
      "/v1/datasets",
      json({ name: "d", description: "dataset { var x [2]float64 }" }),
    )).body?.cancel();
    const query = { dataset: "d", version: 1, fragment: "dataset", bindings: {} };
    const waiting = app.request("/v1/cluster/lookup", json({ ...query, waitMs: 5000 }));
    const copy = { ...query, node: "a", tier: "memory", byteLength: 16, checksum: 0 };
    await (await app.request("/v1/cluster/publish", json(copy))).body?.cancel();
    const found = await (await waiting).json();
    assert.deepEqual([found.version, found.sources[0].node], [1, "a"]);
    const late = await app.request(
      "/v1/cluster/lookup",
      json({ ...query, version: 2, waitMs: 10 }),
    );
    assert.equal(late.status, 408);
    assert.equal(
      (await late.json()).error.message,
      "Timed out after 10 ms waiting for version 2 of 'd' to be committed",
    );
    const bad = await app.request("/v1/cluster/lookup", json({ ...query, waitMs: "soon" }));
    assert.equal(bad.status, 400);
    assert.equal(
      (await bad.json()).error.message,
      `Invalid lookup: 'waitMs' must be an integer >= 0, found "soon"`,
    );
  });
});

Deno.test("publishes of a runtime register in its order, whatever order they arrive in", async () => {
  await withApp(async (app, registry) => {
    const committed = await datasetD(app, registry);
    const copy = copyOfD;
    // Versions 2 and 3 arrive first, each naming the one it follows.
    const third = app.request("/v1/cluster/publish?session=s-1&seq=3&after=2", copy(3));
    const second = app.request("/v1/cluster/publish?session=s-1&seq=2&after=1", copy(2));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(committed, []);
    const first = await app.request("/v1/cluster/publish?session=s-1&seq=1", copy(1));
    assert.deepEqual(await first.json(), { committed: true });
    assert.deepEqual(await (await second).json(), { committed: true });
    assert.deepEqual(await (await third).json(), { committed: true });
    assert.deepEqual(committed, [1, 2, 3]);
    // A first publish of another session, or one without a ticket, waits for nothing.
    assert.equal(
      (await app.request("/v1/cluster/publish?session=s-2&seq=1", copy(4))).status,
      200,
    );
    assert.equal((await app.request("/v1/cluster/publish", copy(5))).status, 200);
    assert.deepEqual(committed, [1, 2, 3, 4, 5]);
    for (
      const [query, message] of [
        ["session=a%20b&seq=1", /^Invalid publish session "a b"/],
        ["session=s&seq=x", /^Invalid publish 'seq' "x"/],
        ["session=s", /needs its 'seq' number/],
        ["session=s&seq=2&after=-1", /^Invalid publish 'after' "-1"/],
      ] as const
    ) {
      const bad = await app.request(`/v1/cluster/publish?${query}`, copy(6));
      assert.equal(bad.status, 400, query);
      assert.match((await bad.json()).error.message, message);
    }
  });
});

Deno.test("a batch of a runtime's publishes registers in its order, each answered on its own", async () => {
  await withApp(async (app, registry) => {
    const committed = await datasetD(app, registry);
    const record = (version: number, byteLength = 16) => wholeCopy("d", version, byteLength);
    // The second request arrives first, naming the first.
    const second = app.request(
      "/v1/cluster/publishes?session=s-1&seq=2&after=1",
      json({ records: [record(3), record(4)] }),
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(committed, []);
    const first = await app.request(
      "/v1/cluster/publishes?session=s-1&seq=1",
      json({ records: [record(1), record(2, 8), { dataset: "d" }, record(1)] }),
    );
    const { results } = await first.json();
    assert.deepEqual(results[0], { committed: true });
    assert.equal(results[1].error.code, "size_mismatch");
    assert.equal(results[2].error.code, "invalid_request");
    assert.equal(results[3].error.code, "conflict");
    assert.deepEqual((await (await second).json()).results, [{ committed: true }, {
      committed: true,
    }]);
    assert.deepEqual(committed, [1, 3, 4]);
    for (const body of [{}, { records: [] }, { records: Array(1025).fill(record(9)) }]) {
      const bad = await app.request("/v1/cluster/publishes", json(body));
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).error.message, /^Invalid publish batch/);
    }
  });
});

Deno.test("a publish carries a small copy's bytes as base64 'inline', and the subscribers' notices carry them on", async () => {
  await withApp(async (app, registry) => {
    await datasetD(app, registry);
    const bytes = new Uint8Array(16).map((_, i) => i * 3);
    const record = { ...wholeCopy("d", 1, 16), checksum: crc32(bytes) };
    const stream = await app.request("/v1/cluster/datasets/d/fragments/dataset/subscribe");
    const lines = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    const bad: [unknown, string][] = [
      [7, "found 7"],
      ["AAEC", "found 3 bytes"],
      ["!!!!", "found text that is not base64"],
      ["A".repeat(30_000), "found 30000 characters"],
    ];
    for (const [inline, why] of bad) {
      const res = await app.request("/v1/cluster/publish", json({ ...record, inline }));
      assert.equal(res.status, 400);
      const { message } = (await res.json()).error;
      assert.ok(
        message.startsWith(
          "Invalid publish: 'inline' must be the copy's 16 bytes (at most 16384) as base64, ",
        ) && message.includes(why),
        message,
      );
    }
    // Refused publishes registered nothing; a good one commits version 1.
    const ok = await app.request(
      "/v1/cluster/publish",
      json({ ...record, inline: bytes.toBase64() }),
    );
    assert.deepEqual(await ok.json(), { committed: true });
    // The stream's first line is a heartbeat, sent at once (the subscription is held).
    let text = "";
    while (text.split("\n").length < 3) text += (await lines.read()).value;
    const [first, second] = text.split("\n");
    assert.deepEqual(JSON.parse(first!), {});
    const notice = JSON.parse(second!);
    assert.equal(notice.version, 1);
    assert.deepEqual(Uint8Array.fromBase64(notice.sources[0].inline), bytes);
    // The record kept names no 'inline' field.
    const found = await registry.attachFragments({
      dataset: "d",
      version: 1,
      fragment: "dataset",
      bindings: {},
    });
    assert.equal("inline" in found.sources[0]!, false);
    await lines.cancel();
  });
});
