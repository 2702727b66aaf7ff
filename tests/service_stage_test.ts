/**
 * Raw bodies of service operations through the shm tier of the runtime's
 * node: a client on the node stages large bodies instead of sending them
 * (FlameStore saves, HEPnOS framed stores), and the stage routes refuse
 * what does not fit: an unknown or used stage, another service's, a file
 * of the wrong size, a body beside the stage, a node without an shm tier.
 */
import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { FlameStore } from "../src/services/flamestore/mod.ts";
import { DataStore } from "../src/services/hepnos/mod.ts";
import { productListPieces } from "../src/services/hepnos/product_list.ts";
import { frame } from "../src/services/frames.ts";
import { joinBytes } from "../src/http/join_bytes.ts";
import { startServer } from "./_server.ts";

const SERVICES = "services:\n" +
  "  flamestore: { targets: 2 }\n" +
  "  hepnos: { targets: 2 }\n";

async function shmServer() {
  await Deno.mkdir("tmp", { recursive: true });
  const dataDir = await Deno.makeTempDir({ dir: "tmp" });
  const shm = `${Deno.cwd()}/${dataDir}/shm`;
  const extra = `tiers:\n  - { name: shm, kind: shm, capacity: 1GiB, path: ${shm} }\n` +
    `  - { name: file, kind: file, capacity: 4GiB }\n` + SERVICES;
  return await startServer({ dataDir, extra });
}

/**
 * The URLs this process fetches while `fn` runs, with the stage header they
 * carry: clients here send through `fetch()` (`agent: "fetch"`) for it to see them.
 */
async function fetched(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const real = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const stage = new Headers(init?.headers).get("strata-stage");
    seen.push(
      `${init?.method ?? "GET"} ${new URL(String(input)).pathname}${stage ? " staged" : ""}`,
    );
    return real(input, init);
  };
  try {
    await fn();
  } finally {
    globalThis.fetch = real;
  }
  return seen;
}

Deno.test("Large bodies of services go through the shm tier of the runtime's node", async () => {
  const server = await shmServer();
  try {
    const store = await FlameStore.connect(server.url, { stage: true, agent: "fetch" });
    const weightSpecs = [{ name: "w", shape: [3 << 20], dtype: "float32" as const }];
    const data = new Uint8Array(new Float32Array(3 << 20).map((_, i) => i).buffer);
    await store.register("big", { topology: {}, weightSpecs });
    const calls = await fetched(() => store.save("big", data, { weightSpecs }));
    // FlameStore takes the staged weights as they are: a `save` naming the
    // stage, the file stored by the tiers (renamed into the shm tier,
    // copied to the file tier by the kernel), never read into the runtime.
    assert.deepEqual(calls, [
      "POST /v1/services/flamestore/stages",
      "POST /v1/services/flamestore/save",
    ]);
    // Loaded on the runtime's node, the weights are read in place from the
    // file leased on its shm tier, then the lease is released.
    let weights: { data: Uint8Array; saves: number; signature: string } | undefined;
    const loads = await fetched(async () => weights = await store.load("big"));
    assert.deepEqual(weights?.data, data);
    assert.equal(weights?.saves, 1);
    assert.equal(loads.length, 2, loads.join(", "));
    assert.equal(loads[0], "POST /v1/services/flamestore/lease");
    assert.match(loads[1]!, /^DELETE \/v1\/leases\//);
    assert.deepEqual([...Deno.readDirSync(`${server.dataDir}/shm/.leases`)], []);
    assert.equal((await store.reload("big")).saves, 1);
    // Saved again the same way: the first save's blob is freed, its files gone.
    await store.save("big", data.slice().reverse(), { weightSpecs });
    assert.deepEqual((await store.load("big")).data, data.slice().reverse());
    const shmFiles = [...Deno.readDirSync(`${server.dataDir}/shm`)].map((e) => e.name)
      .filter((n) => n !== ".leases");
    // One file left on the shm tier: the last save's blob (the stage became it).
    assert.deepEqual(shmFiles.length, 1, shmFiles.join(" "));
    assert.match(shmFiles[0]!, /flamestore/);
    // With `stage: false`, a client sends its bodies, and loads them over HTTP.
    const plainClient = await FlameStore.connect(server.url, { stage: false, agent: "fetch" });
    assert.deepEqual(await fetched(() => plainClient.save("big", data, { weightSpecs })), [
      "POST /v1/services/flamestore/save_bytes",
    ]);
    assert.deepEqual(
      await fetched(async () => assert.deepEqual((await plainClient.load("big")).data, data)),
      ["POST /v1/services/flamestore/load_bytes"],
    );
    // A small body is sent as it is.
    await store.register("small", {
      topology: {},
      weightSpecs: [{ name: "w", shape: [4], dtype: "int32" }],
    });
    const small = await fetched(() =>
      store.save("small", new Uint8Array(16), {
        weightSpecs: [{ name: "w", shape: [4], dtype: "int32" }],
      })
    );
    assert.deepEqual(small, ["POST /v1/services/flamestore/save_bytes"]);
    // Small weights come in the lease's answer: no file, nothing to release, and
    // the large ones are still read in place after it.
    const fresh = await FlameStore.connect(server.url, { stage: true, agent: "fetch" });
    assert.deepEqual(
      await fetched(async () =>
        assert.deepEqual((await fresh.load("small")).data, new Uint8Array(16))
      ),
      ["POST /v1/services/flamestore/lease"],
    );
    assert.equal((await fetched(() => fresh.load("big")))[0], "POST /v1/services/flamestore/lease");
    // Weights a client knows to be small (it saved or loaded them) come over HTTP at once.
    assert.deepEqual(
      await fetched(async () =>
        assert.deepEqual((await fresh.load("small")).data, new Uint8Array(16))
      ),
      ["POST /v1/services/flamestore/load_bytes"],
    );
    assert.deepEqual(
      (await fetched(() => store.load("big")))[0],
      "POST /v1/services/flamestore/lease",
    );
    // A record past a KV value's size (a blob of its own) is read again around the lease.
    await store.register("wide", { topology: { pad: "x".repeat(100_000) }, weightSpecs });
    await store.save("wide", data, { weightSpecs });
    const wide = await fetched(async () =>
      assert.deepEqual(await store.load("wide"), { data, signature: weights!.signature, saves: 1 })
    );
    assert.equal(wide[0], "POST /v1/services/flamestore/lease");
    assert.match(wide[1]!, /^DELETE \/v1\/leases\//);

    // HEPnOS framed stores of large products take the same way.
    const hep = await DataStore.connect(server.url, { stage: true, agent: "fetch" });
    const ev =
      await (await (await (await hep.root().createDataSet("d")).createRun(1n)).createSubRun(1n))
        .createEvent(1n);
    const product = new Uint8Array(9 << 20).map((_, i) => i & 0xff);
    const stores = await fetched(() => ev.store("p", "bytes", product));
    assert.ok(stores.includes("POST /v1/services/hepnos/store_bytes staged"), stores.join(", "));
    assert.deepEqual(await ev.load("p", "bytes"), product);
    // Values just under the staging size whose body, with its list, reaches it: staged too,
    // its products named in its header.
    const edge = product.subarray(0, (8 << 20) - 16);
    const edgeStores = await fetched(() => ev.store("edge", "bytes", edge));
    assert.ok(
      edgeStores.includes("POST /v1/services/hepnos/store_bytes staged"),
      edgeStores.join(", "),
    );
    assert.deepEqual(await ev.load("edge", "bytes"), edge);
  } finally {
    await server.stop();
  }
});

Deno.test("Stage routes refuse unknown, used or foreign stages, wrong sizes, and bodies beside them", async () => {
  const server = await shmServer();
  const post = (path: string, body: BodyInit | null, headers: Record<string, string>) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      body,
      headers: { accept: "application/json", ...headers },
    });
  const stage = async (service: string, byteLength: number) => {
    const res = await post(`/v1/services/${service}/stages`, JSON.stringify({ byteLength }), {
      "content-type": "application/json",
    });
    assert.equal(res.status, 201);
    return await res.json() as { stage: string; path: string };
  };
  const code = async (res: Response) => [res.status, (await res.json()).error?.code];
  try {
    const octet = { "content-type": "application/octet-stream" };
    // Unknown stage.
    assert.deepEqual(
      await code(
        await post("/v1/services/flamestore/save_bytes", null, {
          ...octet,
          "strata-stage": "nope",
        }),
      ),
      [404, "not_found"],
    );
    // Another service's stage.
    const h = await stage("hepnos", 10);
    assert.deepEqual(
      await code(
        await post("/v1/services/flamestore/save_bytes", null, {
          ...octet,
          "strata-stage": h.stage,
        }),
      ),
      [400, "invalid_request"],
    );
    // A staged HEPnOS batch names its products in its header: the runtime reads
    // no more of the file to route and store it.
    const list = productListPieces([{ item: new Uint8Array(40), label: "l", type: "t" }]);
    const listed = joinBytes(frame(list.header, [...list.parts, new Uint8Array(4)]));
    const ls = await stage("hepnos", listed.byteLength);
    await Deno.writeFile(ls.path, listed);
    const refused = await post("/v1/services/hepnos/store_bytes", null, {
      ...octet,
      "strata-stage": ls.stage,
    });
    assert.equal(refused.status, 400);
    assert.match((await refused.json()).error.message, /staged body names its products/);
    // Used once only.
    assert.deepEqual(
      await code(
        await post("/v1/services/hepnos/store_bytes", null, { ...octet, "strata-stage": h.stage }),
      ),
      [404, "not_found"],
    );
    // A file of another size than staged.
    const f = await stage("flamestore", 100);
    await Deno.writeFile(f.path, new Uint8Array(99));
    assert.deepEqual(
      await code(
        await post("/v1/services/flamestore/save_bytes", null, {
          ...octet,
          "strata-stage": f.stage,
        }),
      ),
      [400, "invalid_request"],
    );
    // A body beside the stage.
    const g = await stage("flamestore", 4);
    await Deno.writeFile(g.path, new Uint8Array(4));
    assert.deepEqual(
      await code(
        await post("/v1/services/flamestore/save_bytes", new Uint8Array(3), {
          ...octet,
          "strata-stage": g.stage,
        }),
      ),
      [400, "invalid_request"],
    );
    // Past the service's body limit, and malformed.
    assert.deepEqual(
      await code(
        await post("/v1/services/flamestore/stages", encode({ byteLength: 2 ** 40 }), {
          "content-type": "application/msgpack",
        }),
      ),
      [413, "payload_too_large"],
    );
    assert.deepEqual(
      await code(
        await post("/v1/services/flamestore/stages", "{}", { "content-type": "application/json" }),
      ),
      [400, "invalid_request"],
    );
    // Abandoned: its file is gone.
    const a = await stage("flamestore", 8);
    const del = await fetch(`${server.url}/v1/services/flamestore/stages/${a.stage}`, {
      method: "DELETE",
    });
    assert.equal(del.status, 204);
    await assert.rejects(Deno.stat(a.path), Deno.errors.NotFound);
  } finally {
    await server.stop();
  }
  // A node without an shm tier answers 421, and clients send their bodies instead.
  const plain = await startServer({ extra: SERVICES });
  try {
    const res = await fetch(`${plain.url}/v1/services/flamestore/stages`, {
      method: "POST",
      body: JSON.stringify({ byteLength: 10 }),
      headers: { "content-type": "application/json" },
    });
    assert.equal(res.status, 421);
    await res.body?.cancel();
    const store = await FlameStore.connect(plain.url, { stage: true, agent: "fetch" });
    const weightSpecs = [{ name: "w", shape: [1 << 21], dtype: "float32" as const }];
    await store.register("m", { topology: {}, weightSpecs });
    const data = new Uint8Array(8 << 20).fill(3);
    const calls = await fetched(async () => {
      await store.save("m", data, { weightSpecs });
      await store.save("m", data, { weightSpecs });
    });
    // Tried once, then straight to the body.
    assert.deepEqual(calls, [
      "POST /v1/services/flamestore/stages",
      "POST /v1/services/flamestore/save_bytes",
      "POST /v1/services/flamestore/save_bytes",
    ]);
    assert.deepEqual((await store.load("m")).data, data);
  } finally {
    await plain.stop();
  }
});

Deno.test("A staged batch of large HEPnOS products is stored as one pack, never read into the runtime", async () => {
  const server = await shmServer();
  const shmFiles = () =>
    [...Deno.readDirSync(`${server.dataDir}/shm`)].map((e) => e.name).filter((n) =>
      n.includes("hepnos")
    );
  try {
    const hep = await DataStore.connect(server.url, { stage: true, agent: "fetch" });
    const sub = await (await (await hep.root().createDataSet("d")).createRun(1n)).createSubRun(1n);
    const events: { descriptor: Uint8Array }[] = [];
    for (let i = 0; i < 8; i++) events.push(await sub.createEvent(BigInt(i)));
    // 8 products of 1.25 MiB: one framed body of 10 MiB, past the size clients stage from.
    const values = events.map((_, i) => new Uint8Array(5 << 18).map((_, k) => (k * 7 + i) & 0xff));
    const products = (vs: Uint8Array[]) =>
      events.map((e, i) => ({ item: e.descriptor, label: "p", type: "bytes", value: vs[i]! }));
    const calls = await fetched(() => hep.storeProducts(products(values)));
    assert.ok(calls.includes("POST /v1/services/hepnos/store_bytes staged"), calls.join(", "));
    // One file on the shm tier holds them all: the stage itself, renamed into the tier.
    assert.equal(shmFiles().length, 1, shmFiles().join(" "));
    const reads = events.map((e) => ({ item: e.descriptor, label: "p", type: "bytes" }));
    // A first load of small products only (their bytes in the answer) says
    // nothing of the runtime's files: the large ones are read in place after it.
    const tiny = await sub.createEvent(99n);
    await tiny.store("t", "bytes", new Uint8Array([4, 5]));
    assert.deepEqual(
      await fetched(async () =>
        assert.deepEqual(
          await hep.loadProducts([{ item: tiny.descriptor, label: "t", type: "bytes" }]),
          [new Uint8Array([4, 5])],
        )
      ),
      ["POST /v1/services/hepnos/lease_bytes"],
    );
    // On the runtime's node, loads read the pack's file in place under a lease, then release it.
    let loaded: (Uint8Array | undefined)[] = [];
    const loads = await fetched(async () => loaded = await hep.loadProducts(reads));
    assert.deepEqual(loaded, values);
    assert.equal(loads[0], "POST /v1/services/hepnos/lease_bytes");
    assert.ok(loads.slice(1).every((c) => c.startsWith("DELETE /v1/leases/")), loads.join(", "));
    assert.equal(loads.length, 2, loads.join(", ")); // one lease: one pack
    assert.deepEqual([...Deno.readDirSync(`${server.dataDir}/shm/.leases`)], []);
    // A range of one product comes from its range of the pack.
    const [part] = await hep.loadProducts([{ ...reads[5]!, offset: 1000, length: 3000 }]);
    assert.deepEqual(part, values[5]!.subarray(1000, 4000));
    // A client that does not read files in place (or is on another node) loads over HTTP.
    const remote = await DataStore.connect(server.url, { stage: false, agent: "fetch" });
    const overHttp = await fetched(async () => loaded = await remote.loadProducts(reads));
    assert.deepEqual(loaded, values);
    assert.deepEqual(overHttp, ["POST /v1/services/hepnos/load_bytes"]);

    // Stored again under the default policy (the first value stays): nothing
    // applies, and the new pack, which nothing names, is freed at once.
    const again = values.map((v) => v.slice().reverse());
    assert.deepEqual(await hep.storeProducts(products(again)), events.map(() => false));
    assert.equal(shmFiles().length, 1, shmFiles().join(" "));
    assert.deepEqual(await hep.loadProducts(reads), values);

    // A batch with a small product is read and stored value by value.
    const ev = await sub.createEvent(100n);
    const mixed = [
      { item: ev.descriptor, label: "big", type: "bytes", value: new Uint8Array(9 << 20).fill(9) },
      { item: ev.descriptor, label: "small", type: "bytes", value: new Uint8Array([1, 2, 3]) },
    ];
    const mixedCalls = await fetched(() => hep.storeProducts(mixed));
    assert.ok(mixedCalls.includes("POST /v1/services/hepnos/store_bytes staged"));
    assert.deepEqual(
      await hep.loadProducts(mixed.map(({ value: _, ...p }) => p)),
      mixed.map((p) => p.value),
    );
  } finally {
    await server.stop();
  }
});

Deno.test("A staged HEPnOS body with a broken frame is refused, and nothing is stored", async () => {
  const server = await shmServer();
  try {
    const stage = async (bytes: Uint8Array) => {
      const res = await fetch(`${server.url}/v1/services/hepnos/stages`, {
        method: "POST",
        body: JSON.stringify({ byteLength: bytes.byteLength }),
        headers: { "content-type": "application/json", accept: "application/json" },
      });
      assert.equal(res.status, 201);
      const s = await res.json() as { stage: string; path: string };
      await Deno.writeFile(s.path, bytes);
      return s.stage;
    };
    const store = async (id: string) => {
      const res = await fetch(`${server.url}/v1/services/hepnos/store_bytes`, {
        method: "POST",
        headers: {
          "content-type": "application/octet-stream",
          accept: "application/json",
          "strata-stage": id,
        },
      });
      return [res.status, (await res.json()).error?.message ?? ""];
    };
    // A header longer than the file.
    const long = new Uint8Array(16);
    new DataView(long.buffer).setUint32(0, 1000);
    const [status, message] = await store(await stage(long));
    assert.equal(status, 400);
    assert.match(message, /header of 1000 bytes, only 12 follow/);
    // A header that is not msgpack.
    const garbage = new Uint8Array([0, 0, 0, 2, 0xc1, 0xc1, 1, 2]);
    assert.deepEqual((await store(await stage(garbage)))[0], 400);
    // Parts that do not add up to the file.
    const head = encode({ products: [], sizes: [100] });
    const short = new Uint8Array(4 + head.byteLength + 10);
    new DataView(short.buffer).setUint32(0, head.byteLength);
    short.set(head, 4);
    const [s3, m3] = await store(await stage(short));
    assert.equal(s3, 400);
    assert.match(m3, /runs past the body/);
    // Each stage's file is gone once refused.
    const left = [...Deno.readDirSync(`${server.dataDir}/shm`)].map((e) => e.name);
    assert.deepEqual(left, []);
  } finally {
    await server.stop();
  }
});

Deno.test("Loads from a runtime with no file to lease go over HTTP after the first answer", async () => {
  const plain = await startServer({ extra: SERVICES });
  try {
    const hep = await DataStore.connect(plain.url, { stage: true, agent: "fetch" });
    const ev =
      await (await (await (await hep.root().createDataSet("d")).createRun(1n)).createSubRun(1n))
        .createEvent(1n);
    const big = new Uint8Array(100_000).fill(7);
    await ev.store("big", "bytes", big);
    await ev.store("small", "bytes", new Uint8Array([1, 2]));
    const reads = ["big", "small"].map((label) => ({ item: ev.descriptor, label, type: "bytes" }));
    let got: (Uint8Array | undefined)[] = [];
    // The first answer leases nothing (no shm tier): the small product comes in it, the large one
    // over HTTP, and later loads go straight to load_bytes.
    const first = await fetched(async () => got = await hep.loadProducts(reads));
    assert.deepEqual(got, [big, new Uint8Array([1, 2])]);
    assert.deepEqual(first, [
      "POST /v1/services/hepnos/lease_bytes",
      "POST /v1/services/hepnos/load_bytes",
    ]);
    const next = await fetched(async () => got = await hep.loadProducts(reads));
    assert.deepEqual(got, [big, new Uint8Array([1, 2])]);
    assert.deepEqual(next, ["POST /v1/services/hepnos/load_bytes"]);

    // FlameStore's weights held in memory: the same, one model's load at a time.
    const store = await FlameStore.connect(plain.url, { stage: true, agent: "fetch" });
    // 4 MiB: weights a client reads in place when it can (smaller ones it knows go over HTTP).
    const weightSpecs = [{ name: "w", shape: [1 << 20], dtype: "float32" as const }];
    const data = new Uint8Array(4 << 20).map((_, i) => i & 0xff);
    await store.register("m", { topology: {}, weightSpecs });
    await store.save("m", data, { weightSpecs });
    const firstLoad = await fetched(async () =>
      assert.deepEqual((await store.load("m")).data, data)
    );
    assert.deepEqual(firstLoad, [
      "POST /v1/services/flamestore/lease",
      "POST /v1/services/flamestore/load_bytes",
    ]);
    const nextLoad = await fetched(async () =>
      assert.deepEqual((await store.load("m")).data, data)
    );
    assert.deepEqual(nextLoad, ["POST /v1/services/flamestore/load_bytes"]);
  } finally {
    await plain.stop();
  }
});
