import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { withDir } from "../../tests/_fixtures.ts";
import { connect } from "../client/client.ts";
import { openRegistry } from "../registry/registry.ts";
import { Runtime } from "../runtime/runtime.ts";
import { copyKey } from "../tiers/copy_keys.ts";
import { FileTier, KIND_DEFAULTS, MemoryTier, ShmTier, type Tier, TierSet } from "../tiers/mod.ts";
import { createApp } from "./app.ts";

const FIELD = `dataset field { var t [4, 4]float64 }
fragment band(r0, r1) { var t = t[r0:r1, :] }`;

interface Harness {
  readonly request: (path: string, init?: RequestInit) => Promise<Response>;
  readonly url: string;
  readonly shm: ShmTier | undefined;
  readonly file: FileTier;
  readonly runtime: Runtime;
}

/** A runtime whose tiers are an shm tier (unless `shm: false`) and a file tier, served on loopback. */
async function withRuntime(
  fn: (h: Harness) => Promise<void>,
  options: { readonly shm?: boolean } = {},
): Promise<void> {
  await withDir(async (dir) => {
    const registry = await openRegistry({ path: ":memory:" });
    const shm = options.shm === false ? undefined : await ShmTier.open("shm", `${dir}/shm`, 1024);
    const file = await FileTier.open("file", `${dir}/file`, 4096);
    const first: { tier: Tier; kind: "shm" | "memory" } = shm === undefined
      ? { tier: new MemoryTier("memory", 1024), kind: "memory" }
      : { tier: shm, kind: "shm" };
    const tiers = new TierSet({
      node: "n1",
      tiers: [
        {
          tier: first.tier,
          spec: { name: first.tier.name, kind: first.kind, capacity: 1024, ...KIND_DEFAULTS.shm },
        },
        {
          tier: file,
          spec: { name: "file", kind: "file", capacity: 4096, ...KIND_DEFAULTS.file },
        },
      ],
    });
    const runtime = new Runtime({ node: "n1", names: registry, tiers });
    const app = createApp({
      maxBodyBytes: 4096,
      data: { runtime, catalog: registry, maxPayloadBytes: 1 << 20 },
    });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
    try {
      await fn({
        request: async (p, i) => await app.request(p, i),
        url: `http://127.0.0.1:${server.addr.port}`,
        shm,
        file,
        runtime,
      });
    } finally {
      await server.shutdown();
      await runtime.close?.();
      registry.close();
    }
  });
}

const post = (path: string) => ({ path, init: { method: "POST" } });

async function createField(request: Harness["request"], durable = true, overwrite = false) {
  const res = await request("/v1/datasets", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "field", description: FIELD, durable, overwrite }),
  });
  assert.equal(res.status, 201, await res.text());
}

function band(r0: number): Uint8Array {
  const a = new Float64Array(8);
  for (let i = 0; i < 8; i++) a[i] = r0 * 100 + i;
  return new Uint8Array(a.buffer);
}

const STAGE = "/v1/datasets/field/versions/1/fragments/band/stage?r0=0&r1=2";

Deno.test("POST .../stage then POST /v1/stages/:stage publishes the file: the shm tier takes it, the file tier a flushed copy", async () => {
  await withRuntime(async ({ request, shm, file }) => {
    await createField(request);
    const s = post(STAGE);
    const res = await request(s.path, s.init);
    assert.equal(res.status, 201);
    const stage = await res.json();
    assert.equal(stage.byteLength, 64);
    assert.equal(stage.tier, "shm");
    assert.equal(stage.path, shm!.stagingPathOf(stage.stage));
    assert.deepEqual(await Deno.readFile(stage.path), new Uint8Array(0));
    await Deno.writeFile(stage.path, band(0));
    const published = await request(`/v1/stages/${stage.stage}`, { method: "POST" });
    assert.equal(published.status, 201);
    const record = await published.json();
    assert.equal(record.checksum, crc32(band(0)));
    assert.equal(record.tier, "file");
    const key = copyKey("field", 1, "band", { r0: 0, r1: 2 });
    assert.deepEqual(await shm!.get(key), band(0));
    assert.deepEqual(await file.get(key), band(0));
    assert.equal(await Deno.stat(stage.path).catch((e) => e.constructor), Deno.errors.NotFound);
    // One publish per stage.
    const again = await request(`/v1/stages/${stage.stage}`, { method: "POST" });
    assert.equal(again.status, 404);
    assert.equal((await again.json()).error.code, "not_found");
  });
});

Deno.test("POST .../stage counts staged files against the shm tier: one past its room is refused until one ends", async () => {
  await withRuntime(async ({ request, shm }) => {
    await createField(request);
    // The shm tier holds 1024 bytes: sixteen stages of 64 fill it.
    const stages = [];
    for (let i = 0; i < 16; i++) {
      const res = await request(STAGE, { method: "POST" });
      assert.equal(res.status, 201);
      stages.push(await res.json());
    }
    assert.equal(shm!.info().used, 1024);
    const full = await request(STAGE, { method: "POST" });
    assert.equal(full.status, 421);
    const body = await full.json();
    assert.equal(body.error.code, "not_here");
    assert.match(body.error.message, /no shm tier with room for the 64 bytes/);
    // An abandoned stage gives its room back; a published one hands it to its copy.
    const abandoned = await request(`/v1/stages/${stages[0].stage}`, { method: "DELETE" });
    assert.equal(abandoned.status, 204);
    assert.equal(shm!.info().used, 960);
    await Deno.writeFile(stages[1].path, band(0));
    const published = await request(`/v1/stages/${stages[1].stage}`, { method: "POST" });
    assert.equal(published.status, 201);
    assert.equal(shm!.info().used, 960);
    const again = await request(STAGE, { method: "POST" });
    assert.equal(again.status, 201);
    assert.equal(shm!.info().used, 1024);
    for (const s of [...stages.slice(2), await again.json()]) {
      assert.equal((await request(`/v1/stages/${s.stage}`, { method: "DELETE" })).status, 204);
    }
    assert.equal(shm!.info().used, 64);
  });
});

Deno.test("POST /v1/stages/:stage refuses a file of another size (400 size_mismatch) and stores nothing", async () => {
  await withRuntime(async ({ request, runtime }) => {
    await createField(request);
    const stage = await (await request(STAGE, { method: "POST" })).json();
    await Deno.writeFile(stage.path, band(0).subarray(0, 60));
    const res = await request(`/v1/stages/${stage.stage}`, { method: "POST" });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error.code, "size_mismatch");
    assert.equal(
      body.error.message,
      "Cannot publish staged fragment 'band': expected 64 bytes, the file holds 60",
    );
    assert.deepEqual(runtime.tiers.keys("field/"), []);
    assert.equal(await Deno.stat(stage.path).catch((e) => e.constructor), Deno.errors.NotFound);
  });
});

Deno.test("A stage is refused when it cannot be staged, and DELETE /v1/stages/:stage abandons it", async () => {
  await withRuntime(async ({ request }) => {
    await createField(request);
    const waits = await request(`${STAGE}&wait=10`, { method: "POST" });
    assert.equal(waits.status, 400);
    assert.equal((await waits.json()).error.code, "invalid_request");
    const misfit = await request(
      "/v1/datasets/field/versions/1/fragments/band/stage?r0=0&r1=9",
      { method: "POST" },
    );
    assert.equal(misfit.status < 500 && misfit.status >= 400, true);
    const stage = await (await request(STAGE, { method: "POST" })).json();
    const gone = await request(`/v1/stages/${stage.stage}`, { method: "DELETE" });
    assert.equal(gone.status, 204);
    assert.equal(await Deno.stat(stage.path).catch((e) => e.constructor), Deno.errors.NotFound);
    const unknown = await request(`/v1/stages/${stage.stage}`, { method: "DELETE" });
    assert.equal(unknown.status, 404);
  });
  await withRuntime(async ({ request }) => {
    await createField(request);
    const res = await request(STAGE, { method: "POST" });
    assert.equal(res.status, 421);
    const body = await res.json();
    assert.equal(body.error.code, "not_here");
    assert.match(body.error.message, /^Cannot stage in shared memory: node 'n1' has no shm tier/);
  }, { shm: false });
});

Deno.test("Client.publish() via shm writes the staged file; an overwrite and a runtime with no shm tier still publish", async () => {
  await withRuntime(async ({ request, url, shm }) => {
    await createField(request, true, true);
    const strata = connect(url);
    const r0 = { r0: 0, r1: 2 };
    const done = await strata.publish("field", 1, "band", band(0), { params: r0, via: "shm" });
    assert.equal(done.checksum, crc32(band(0)));
    await strata.publish("field", 1, "band", band(2), { params: { r0: 2, r1: 4 }, via: "shm" });
    const got = await strata.attach("field", "dataset", { version: 1 });
    assert.deepEqual(got.bytes, new Uint8Array([...band(0), ...band(2)]));
    // The same region again before the version commits: the staged bytes replace the old ones.
    await strata.publish("field", 2, "band", band(5), { params: r0, via: "shm" });
    await strata.publish("field", 2, "band", band(7), { params: r0, via: "shm" });
    await strata.publish("field", 2, "band", band(2), { params: { r0: 2, r1: 4 }, via: "shm" });
    const again = await strata.attach("field", "dataset", { version: 2 });
    assert.deepEqual(again.bytes, new Uint8Array([...band(7), ...band(2)]));
    // Nothing staged is left behind.
    const left = [...Deno.readDirSync(shm!.stagingPathOf("x").replace(/\/[^/]*$/, ""))]
      .filter((e) => e.name.endsWith(".stage.tmp"));
    assert.deepEqual(left, []);
  });
  await withRuntime(async ({ request, url }) => {
    await createField(request);
    const strata = connect(url);
    for (const r0 of [0, 2]) {
      await strata.publish("field", 1, "band", band(r0), {
        params: { r0, r1: r0 + 2 },
        via: "shm",
      });
    }
    const got = await strata.attach("field", "dataset", { version: 1 });
    assert.deepEqual(got.bytes, new Uint8Array([...band(0), ...band(2)]));
  }, { shm: false });
});

Deno.test("POST .../parts leases every shm copy a region is gathered from, and lists the rest", async () => {
  await withRuntime(async ({ request, url }) => {
    await createField(request);
    const strata = connect(url);
    for (const r0 of [0, 2]) {
      await strata.publish("field", 1, "band", band(r0), { params: { r0, r1: r0 + 2 } });
    }
    const res = await request(
      "/v1/datasets/field/versions/1/fragments/dataset/parts?ttl=5000",
      { method: "POST" },
    );
    assert.equal(res.status, 201);
    const got = await res.json();
    assert.equal(got.version, 1);
    assert.equal(got.layout.byteLength, 128);
    assert.deepEqual(got.unmapped, []);
    assert.deepEqual(got.parts.map((p: { bindings: unknown }) => p.bindings), [
      { r0: 0, r1: 2 },
      { r0: 2, r1: 4 },
    ]);
    assert.equal(got.ttlMs, 5000);
    for (const p of got.parts) {
      assert.deepEqual(await Deno.readFile(p.path), band(p.bindings.r0));
      assert.equal(p.layout.byteLength, 64);
    }
    // One lease for all parts: renewed and released at once.
    const renewed = await request(`/v1/leases/${got.lease}/renew?ttl=9000`, { method: "POST" });
    assert.equal(renewed.status, 200);
    assert.equal((await renewed.json()).ttlMs, 9000);
    const released = await request(`/v1/leases/${got.lease}`, { method: "DELETE" });
    assert.equal(released.status, 204);
    for (const p of got.parts) {
      assert.equal(await Deno.stat(p.path).catch((e) => e.constructor), Deno.errors.NotFound);
    }
    const again = await request(`/v1/leases/${got.lease}`, { method: "DELETE" });
    assert.equal(again.status, 404);
  });
  await withRuntime(async ({ request, url }) => {
    await createField(request);
    const strata = connect(url);
    for (const r0 of [0, 2]) {
      await strata.publish("field", 1, "band", band(r0), { params: { r0, r1: r0 + 2 } });
    }
    const res = await request("/v1/datasets/field/versions/1/fragments/band/parts?r0=1&r1=3", {
      method: "POST",
    });
    assert.equal(res.status, 201);
    const got = await res.json();
    assert.deepEqual(got.parts, []);
    assert.equal(got.lease, undefined);
    assert.deepEqual(got.unmapped.map((u: { node: string }) => u.node), ["n1", "n1"]);
  }, { shm: false });
});
