import assert from "node:assert/strict";
import { decode, encode } from "@msgpack/msgpack";
import { openRegistry, type Registry } from "../registry/registry.ts";
import { Runtime } from "../runtime/runtime.ts";
import { FileTier } from "../tiers/file_tier.ts";
import { MemoryTier } from "../tiers/memory_tier.ts";
import { KIND_DEFAULTS } from "../tiers/tier_config.ts";
import { TierSet } from "../tiers/tier_set.ts";
import { createApp } from "./app.ts";

const PARTICLES = `dataset particles {
  type P struct { x, y, z float64; id int32; pad int32 }
  var p [4]P
}
fragment xyz columnar { var p { x, y float32, z } = p }
fragment part(lo, hi) { var p = p[lo:hi] }`;

interface Harness {
  request: (path: string, init?: RequestInit) => Promise<Response>;
  registry: Registry;
  memory: MemoryTier;
  file: FileTier;
}

async function withApp(fn: (h: Harness) => Promise<void>, token?: string): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const registry = await openRegistry({ path: ":memory:" });
  const memory = new MemoryTier("memory", 1 << 20);
  const file = await FileTier.open("file", `${dir}/file`, 1 << 20);
  const tiers = new TierSet({
    node: "n1",
    tiers: [
      {
        tier: memory,
        spec: { name: "memory", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory },
      },
      {
        tier: file,
        spec: { name: "file", kind: "file", capacity: 1 << 20, ...KIND_DEFAULTS.file },
      },
    ],
  });
  const runtime = new Runtime({ node: "n1", names: registry, tiers });
  const app = createApp({
    maxBodyBytes: 4096,
    ...(token === undefined ? {} : { token }),
    data: { runtime, catalog: registry, maxPayloadBytes: 1024 },
  });
  try {
    await fn({ request: async (p, i) => await app.request(p, i), registry, memory, file });
  } finally {
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const json = (body: unknown, method = "POST"): RequestInit => ({
  method,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

const bytes = (data: Uint8Array, type = "application/octet-stream"): RequestInit => ({
  method: "PUT",
  headers: { "content-type": type },
  body: data as Uint8Array<ArrayBuffer>,
});

/** Four particles, array of structs, 32 bytes each. */
function particles(): Uint8Array {
  const out = new Uint8Array(128);
  const v = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) {
    v.setFloat64(i * 32, i + 0.25, true);
    v.setFloat64(i * 32 + 8, -i, true);
    v.setFloat64(i * 32 + 16, 10 * i, true);
    v.setInt32(i * 32 + 24, 100 + i, true);
  }
  return out;
}

async function errorOf(res: Response): Promise<[number, string, string]> {
  const body = await res.json();
  return [res.status, body.error.code, body.error.message];
}

Deno.test("publish then attach returns the fragment's layout, converted and columnar", async () => {
  await withApp(async ({ request }) => {
    assert.equal(
      (await request("/v1/datasets", json({ name: "particles", description: PARTICLES }))).status,
      201,
    );
    const pub = await request(
      "/v1/datasets/particles/versions/1/fragments/dataset",
      bytes(particles()),
    );
    assert.equal(pub.status, 201);
    assert.equal((await pub.json()).committed, true);
    const res = await request("/v1/datasets/particles/versions/latest/fragments/xyz");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("strata-version"), "1");
    const layout = JSON.parse(res.headers.get("strata-layout")!);
    const buf = new Uint8Array(await res.arrayBuffer());
    assert.equal(buf.byteLength, layout.byteLength);
    assert.deepEqual([...new Float64Array(buf.buffer, 0, 4)], [0.25, 1.25, 2.25, 3.25]);
    assert.deepEqual([...new Float32Array(buf.buffer, 32, 4)], [-0, -1, -2, -3]);
    assert.deepEqual([...new Float64Array(buf.buffer, 48, 4)], [0, 10, 20, 30]);
  });
});

Deno.test("a version published in parts commits when covered, and attach gathers the parts", async () => {
  await withApp(async ({ request }) => {
    await request("/v1/datasets", json({ name: "particles", description: PARTICLES }));
    const all = particles();
    const first = await request(
      "/v1/datasets/particles/versions/1/fragments/part?lo=0&hi=3",
      bytes(all.slice(0, 96)),
    );
    assert.equal((await first.json()).committed, false);
    assert.deepEqual(
      await errorOf(await request("/v1/datasets/particles/versions/1/fragments/xyz")),
      [
        409,
        "not_committed",
        "Version 1 of 'particles' is not committed: attach with wait to wait for it",
      ],
    );
    const waiting = request("/v1/datasets/particles/versions/1/fragments/part?lo=2&hi=4&wait=5000");
    const second = await request(
      "/v1/datasets/particles/versions/1/fragments/part?lo=3&hi=4",
      bytes(all.slice(96)),
    );
    assert.equal((await second.json()).committed, true);
    const got = await waiting;
    assert.equal(got.status, 200);
    assert.deepEqual(new Uint8Array(await got.arrayBuffer()), all.slice(64));
  });
});

Deno.test("every bad request gets its status, code and message, and registers nothing", async () => {
  await withApp(async ({ request, registry }) => {
    await request("/v1/datasets", json({ name: "particles", description: PARTICLES }));
    const cases: [Promise<Response>, number, string, string][] = [
      [
        request("/v1/datasets", json({ name: "bad", description: "dataset { var x flaot64 }" })),
        400,
        "invalid_description",
        "1:17: Unknown type 'flaot64'\ndataset { var x flaot64 }\n                ^",
      ],
      [request("/v1/datasets/nope"), 404, "not_found", "Unknown dataset 'nope'"],
      [
        request("/v1/datasets/particles/versions/1/fragments/nope", bytes(new Uint8Array(8))),
        400,
        "invalid_layout",
        "Unknown fragment 'nope': the dataset declares 'xyz', 'part'",
      ],
      [
        request("/v1/datasets/particles/versions/1/fragments/dataset", bytes(new Uint8Array(100))),
        400,
        "size_mismatch",
        "Cannot publish fragment 'dataset': expected 128 bytes, received 100",
      ],
      [
        request(
          "/v1/datasets/particles/versions/1/fragments/dataset",
          bytes(new Uint8Array(128), "text/plain"),
        ),
        415,
        "unsupported_media_type",
        "Unsupported content type: a fragment payload is application/octet-stream, found 'text/plain'",
      ],
      [
        request("/v1/datasets", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "x".repeat(5000),
        }),
        413,
        "payload_too_large",
        "Request body too large: limit is 4096 bytes, received 5000 or more",
      ],
      [
        request("/v1/datasets/particles/versions/0/fragments/dataset"),
        400,
        "invalid_request",
        "Invalid version '0': expected a positive integer or 'latest'",
      ],
      [
        request("/v1/datasets/particles/versions/1/fragments/part?lo=0"),
        400,
        "invalid_layout",
        "Parameter 'hi' of fragment 'part' is not bound",
      ],
      [
        request("/v1/datasets/particles/versions/latest/fragments/xyz?wait=30"),
        408,
        "timeout",
        "Timed out after 30 ms waiting for version 1 of 'particles' to be committed",
      ],
    ];
    for (const [pending, status, code, message] of cases) {
      assert.deepEqual(await errorOf(await pending), [status, code, message]);
    }
    assert.deepEqual(await registry.listVersions("particles"), []);
    await request("/v1/datasets/particles/versions/1/fragments/dataset", bytes(particles()));
    assert.deepEqual(
      await errorOf(
        await request(
          "/v1/datasets/particles/versions/2/fragments/part?lo=0&hi=4",
          bytes(new Uint8Array(2048)),
        ),
      ),
      [
        413,
        "payload_too_large",
        "Request body too large: limit is 1024 bytes, received 2048 or more",
      ],
    );
    await request(
      "/v1/datasets/particles/versions/2/fragments/part?lo=0&hi=2",
      bytes(new Uint8Array(64)),
    );
    assert.deepEqual(
      await errorOf(
        await request(
          "/v1/datasets/particles/versions/2/fragments/part?lo=0&hi=2",
          bytes(new Uint8Array(64)),
        ),
      ),
      [
        409,
        "conflict",
        "Fragment 'part' (hi=2,lo=0) of version 2 of 'particles' is already published: datasets are write-once unless created with overwrite",
      ],
    );
  });
});

Deno.test("a full node answers 507 naming what is full, and the registry stays clean", async () => {
  await withApp(async ({ request, registry, memory, file }) => {
    await request("/v1/datasets", json({ name: "particles", description: PARTICLES }));
    // Bytes the runtime did not place: the spill rule cannot move them.
    await memory.put("ballast", new Uint8Array((1 << 20) - 100));
    await file.put("ballast", new Uint8Array((1 << 20) - 100));
    assert.deepEqual(
      await errorOf(
        await request("/v1/datasets/particles/versions/1/fragments/dataset", bytes(particles())),
      ),
      [
        507,
        "insufficient_storage",
        "Node 'n1' has no room for 128 bytes of fragment 'dataset' of version 1 of 'particles': tier 'memory' holds 1048476 of 1048576 bytes, tier 'file' holds 1048476 of 1048576 bytes",
      ],
    );
    assert.deepEqual(await registry.listVersions("particles"), []);
  });
});

Deno.test("control bodies and answers may be msgpack", async () => {
  await withApp(async ({ request }) => {
    const res = await request("/v1/datasets", {
      method: "POST",
      headers: { "content-type": "application/msgpack", accept: "application/msgpack" },
      body: encode({ name: "particles", description: PARTICLES }) as Uint8Array<ArrayBuffer>,
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("content-type"), "application/msgpack");
    assert.equal(
      (decode(new Uint8Array(await res.arrayBuffer())) as { name: string }).name,
      "particles",
    );
  });
});

Deno.test("mutating routes need the bearer token when one is configured", async () => {
  await withApp(async ({ request }) => {
    assert.deepEqual(
      (await errorOf(await request("/v1/datasets", json({ name: "p", description: PARTICLES }))))[
        0
      ],
      401,
    );
    const ok = await request("/v1/datasets", {
      ...json({ name: "p", description: PARTICLES }),
      headers: { "content-type": "application/json", authorization: "Bearer sesame-sesame" },
    });
    assert.equal(ok.status, 201);
    assert.equal((await request("/v1/datasets")).status, 200);
  }, "sesame-sesame");
});

Deno.test("commit, versions, batch and delete routes", async () => {
  await withApp(async ({ request }) => {
    await request(
      "/v1/datasets",
      json({ name: "particles", description: PARTICLES, retention: 1 }),
    );
    await request(
      "/v1/datasets/particles/versions/1/fragments/part?lo=0&hi=1",
      bytes(new Uint8Array(32)),
    );
    const commit = await request("/v1/datasets/particles/versions/1/commit", json({}));
    assert.deepEqual(await commit.json(), { version: 1, retired: [] });
    const again = await request("/v1/datasets/particles/versions/1/commit", json({}));
    assert.deepEqual(await errorOf(again), [
      409,
      "conflict",
      "Version 1 of 'particles' is already committed",
    ]);
    const batch = await request(
      "/v1/batch",
      json({
        ops: [
          {
            op: "publish",
            dataset: "particles",
            version: 2,
            fragment: "dataset",
            node: "n9",
            tier: "memory",
            byteLength: 128,
            checksum: 0,
          },
          { op: "lookup", dataset: "particles", version: "latest", fragment: "xyz" },
        ],
      }),
    );
    const { results } = await batch.json();
    assert.deepEqual(results[0], { ok: { committed: true } });
    assert.equal(results[1].ok.version, 2);
    const versions = await (await request("/v1/datasets/particles/versions")).json();
    assert.deepEqual(versions.versions.map((v: { state: string }) => v.state), [
      "retired",
      "committed",
    ]);
    assert.equal((await request("/v1/datasets/particles", { method: "DELETE" })).status, 204);
    assert.equal((await request("/v1/datasets/particles")).status, 404);
  });
});

Deno.test("flush writes a version's copies to a persistent tier and GET /v1/nodes counts them", async () => {
  await withApp(async ({ request }) => {
    await request("/v1/datasets", json({ name: "particles", description: PARTICLES }));
    await request("/v1/datasets/particles/versions/1/fragments/dataset", bytes(particles()));
    const flushed = await request("/v1/datasets/particles/versions/1/flush?tier=file", {
      method: "POST",
    });
    assert.equal(flushed.status, 200);
    assert.deepEqual(await flushed.json(), {
      dataset: "particles",
      version: 1,
      tier: "file",
      copies: 1,
      written: 1,
      bytes: 128,
    });
    const nodes = await (await request("/v1/nodes")).json();
    assert.deepEqual(
      nodes.nodes[0].tiers.map((t: { name: string; count: number }) => [t.name, t.count]),
      [["memory", 1], ["file", 1]],
    );
    assert.equal(nodes.nodes[0].fragments, 1);
    assert.deepEqual(
      await errorOf(await request("/v1/datasets/particles/versions/2/flush", { method: "POST" })),
      [
        400,
        "invalid_request",
        "Cannot flush on node 'n1': it has no backing tier (it has memory, file)",
      ],
    );
    assert.deepEqual(
      await errorOf(
        await request("/v1/datasets/particles/versions/2/flush?tier=file", { method: "POST" }),
      ),
      [404, "not_found", "Version 2 of 'particles' has no copies on node 'n1'"],
    );
    assert.deepEqual(
      await errorOf(await request("/v1/datasets/nope/versions/1/flush", { method: "POST" })),
      [404, "not_found", "Unknown dataset 'nope'"],
    );
    assert.deepEqual(
      await errorOf(await request("/v1/datasets/particles/versions/x/flush", { method: "POST" })),
      [400, "invalid_request", "Invalid version 'x': expected a positive integer"],
    );
  });
});

Deno.test("the datasets are listed a page at a time, after a name", async () => {
  await withApp(async ({ request }) => {
    const names = ["e", "a", "d", "b", "c"];
    for (const name of names) {
      const res = await request(
        "/v1/datasets",
        json({ name, description: "dataset { var x int8 }" }),
      );
      assert.equal(res.status, 201);
    }
    const page = async (q: string) => {
      const res = await request(`/v1/datasets${q}`);
      assert.equal(res.status, 200);
      const body = await res.json() as { datasets: { name: string }[]; next?: string };
      return [body.datasets.map((d) => d.name), body.next];
    };
    assert.deepEqual(await page(""), [["a", "b", "c", "d", "e"], undefined]);
    assert.deepEqual(await page("?limit=2"), [["a", "b"], "b"]);
    assert.deepEqual(await page("?limit=2&after=b"), [["c", "d"], "d"]);
    assert.deepEqual(await page("?limit=2&after=d"), [["e"], undefined]);
    assert.deepEqual(await page("?limit=3&after=c"), [["d", "e"], undefined]);
    // A cursor need not be a dataset's name.
    assert.deepEqual(await page("?after=bb"), [["c", "d", "e"], undefined]);
    assert.deepEqual(await page("?after=z"), [[], undefined]);
    for (
      const q of ["?limit=0", "?limit=10001", "?limit=x", "?limit=", `?after=${"n".repeat(200)}`]
    ) {
      const [status, code] = await errorOf(await request(`/v1/datasets${q}`));
      assert.deepEqual([status, code], [400, "invalid_request"], q);
    }
  });
});

Deno.test("a dataset's versions are listed a page at a time, above a version", async () => {
  await withApp(async ({ request }) => {
    const created = await request(
      "/v1/datasets",
      json({ name: "v", description: "dataset { var x int8 }", retention: 10 }),
    );
    assert.equal(created.status, 201);
    for (let v = 1; v <= 5; v++) {
      const res = await request(
        `/v1/datasets/v/versions/${v}/fragments/dataset`,
        bytes(new Uint8Array([v])),
      );
      assert.equal(res.status, 201);
    }
    const page = async (q: string) => {
      const res = await request(`/v1/datasets/v/versions${q}`);
      assert.equal(res.status, 200);
      const body = await res.json() as { versions: { version: number }[]; next?: number };
      return [body.versions.map((v) => v.version), body.next];
    };
    assert.deepEqual(await page(""), [[1, 2, 3, 4, 5], undefined]);
    assert.deepEqual(await page("?limit=2"), [[1, 2], 2]);
    assert.deepEqual(await page("?limit=2&after=2"), [[3, 4], 4]);
    assert.deepEqual(await page("?limit=2&after=4"), [[5], undefined]);
    assert.deepEqual(await page("?after=9"), [[], undefined]);
    for (
      const q of ["?after=-1", "?after=x", "?after=", "?after=1.5", "?limit=0", "?limit=10001"]
    ) {
      const [status, code] = await errorOf(await request(`/v1/datasets/v/versions${q}`));
      assert.deepEqual([status, code], [400, "invalid_request"], q);
    }
    const [status, code] = await errorOf(await request("/v1/datasets/nope/versions?limit=2"));
    assert.deepEqual([status, code], [404, "not_found"]);
  });
});
