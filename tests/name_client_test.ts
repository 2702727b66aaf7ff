import assert from "node:assert/strict";
import { createApp } from "../src/api/app.ts";
import { openRegistry } from "../src/registry/registry.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { openMemoryAndFile } from "../src/tiers/memory_and_file.ts";
import { RemoteNameService } from "../src/cluster/name_client.ts";
import { NodeBook } from "../src/cluster/node_book.ts";
import { ReleaseLog } from "../src/cluster/release_log.ts";

const GRID = `dataset grid { var t [4, 4]float32 }`;

Deno.test("RemoteNameService delivers release notices: a remote runtime frees retired copies", async () => {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const registry = await openRegistry({ path: ":memory:" });
  const releases = new ReleaseLog();
  registry.onRelease((copies) => releases.push(copies));
  const app = createApp({
    maxBodyBytes: 1 << 20,
    data: { catalog: registry, maxPayloadBytes: 1 << 20 },
    cluster: { registry, releases, nodes: new NodeBook(registry) },
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const names = new RemoteNameService({
    urls: [`http://127.0.0.1:${server.addr.port}`],
    node: "a",
    pollMs: 5_000,
  });
  try {
    const tiers = await openMemoryAndFile({
      node: "a",
      dataDir: dir,
      memory: 1 << 20,
      file: 1 << 20,
    });
    const runtime = new Runtime({ node: "a", names, tiers });
    await names.createDataset({ name: "grid", description: GRID, retention: 1 });
    const bytes = () => new Uint8Array(64);
    await runtime.publish({
      dataset: "grid",
      version: 1,
      fragment: "dataset",
      bindings: {},
      bytes: bytes(),
    });
    assert.equal(tiers.keys().length, 1);
    // Version 2 retires version 1 at the name server; the notice reaches node a.
    await runtime.publish({
      dataset: "grid",
      version: 2,
      fragment: "dataset",
      bindings: {},
      bytes: bytes(),
    });
    while (tiers.keys().length !== 1 || tiers.holds("grid/1/dataset/")) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(tiers.holds("grid/2/dataset/"), true);
    // Deleting the dataset frees the rest.
    await names.deleteDataset("grid");
    while (tiers.keys().length !== 0) await new Promise((r) => setTimeout(r, 10));
  } finally {
    names.close();
    releases.close();
    await server.shutdown();
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RemoteNameService looks up a version that commits later in one waiting call", async () => {
  const registry = await openRegistry({ path: ":memory:" });
  const releases = new ReleaseLog();
  const app = createApp({
    maxBodyBytes: 1 << 20,
    data: { catalog: registry, maxPayloadBytes: 1 << 20 },
    cluster: { registry, releases, nodes: new NodeBook(registry) },
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const names = new RemoteNameService({
    urls: [`http://127.0.0.1:${server.addr.port}`],
    node: "a",
  });
  try {
    await names.createDataset({ name: "grid", description: GRID });
    const query = { dataset: "grid", version: 1, fragment: "dataset", bindings: {} };
    const found = names.attachFragments(query, { waitMs: 5000 });
    await registry.publishFragment({
      ...query,
      node: "a",
      tier: "memory",
      byteLength: 64,
      checksum: 0,
    });
    const got = await found;
    assert.deepEqual([got.version, got.sources.length], [1, 1]);
    await assert.rejects(
      names.attachFragments({ ...query, version: 2 }, { waitMs: 10 }),
      (e) =>
        e instanceof Error && "code" in e && e.code === "timeout" &&
        e.message === "Timed out after 10 ms waiting for version 2 of 'grid' to be committed",
    );
  } finally {
    names.close();
    releases.close();
    await server.shutdown();
    registry.close();
  }
});

Deno.test("RemoteNameService routes each dataset to the name server its name hashes to", () => {
  const names = new RemoteNameService({
    urls: ["http://127.0.0.1:1", "http://127.0.0.1:2/"],
    node: "a",
  });
  const urls = ["alpha", "beta", "gamma", "delta"].map((n) => names.urlOf(n));
  assert.ok(urls.every((u) => u === "http://127.0.0.1:1" || u === "http://127.0.0.1:2"));
  assert.equal(names.urlOf("alpha"), names.urlOf("alpha"));
  names.close();
});

Deno.test("RemoteNameService throws UnavailableError naming a name server that does not answer", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const names = new RemoteNameService({ urls: [`http://127.0.0.1:${port}`], node: "a" });
  await assert.rejects(
    names.datasetSettings("x"),
    (e) =>
      e instanceof Error && "code" in e && e.code === "unavailable" &&
      e.message.startsWith(`Name server http://127.0.0.1:${port} does not answer`),
  );
  names.close();
});
