import assert from "node:assert/strict";
import { ConflictError, NotFoundError } from "../errors.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { FUNCTION_KEYS, FunctionStore, type VersionRecord } from "./store.ts";

const draft = (name: string, digest: string): Omit<VersionRecord, "version"> => ({
  name,
  digest,
  bytes: 0,
  limits: DEFAULT_LIMITS,
  declaration: {
    input: "",
    fragment: "f",
    params: [],
    output: { kind: "value" },
    sample: {},
    merge: false,
  },
  typeCheck: "skipped",
  dryRunMs: 0,
  deployedAt: 1,
});

async function withStore(fn: (store: FunctionStore, kv: Deno.Kv) => Promise<void>) {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(new FunctionStore(kv), kv);
  } finally {
    kv.close();
  }
}

Deno.test("FunctionStore.addVersion() numbers versions, chunks large sources and sets aliases", async () => {
  await withStore(async (store, kv) => {
    const big = "// é\n".repeat(40_000);
    const v1 = await store.addVersion(draft("f", "sha256:a"), big, ["prod"]);
    const v2 = await store.addVersion(draft("f", "sha256:b"), "small", []);
    assert.deepEqual([v1.version, v2.version], [1, 2]);
    assert.equal(await store.getSource("sha256:a"), big);
    const chunks = await Array.fromAsync(kv.list({ prefix: ["function_sources", "sha256:a"] }));
    assert.equal(chunks.length, Math.ceil(new TextEncoder().encode(big).byteLength / 60_000));
    assert.deepEqual(await store.aliases("f"), { latest: 2, prod: 1 });
    assert.deepEqual((await store.getFunction("f"))?.latest, 2);
    // Concurrent deploys of one name take distinct numbers.
    const many = await Promise.all(
      [3, 4, 5].map((i) => store.addVersion(draft("f", `sha256:${i}`), "x", [])),
    );
    assert.deepEqual(many.map((v) => v.version).sort(), [3, 4, 5]);
  });
});

Deno.test("FunctionStore deletes sources only when no other version holds them", async () => {
  await withStore(async (store, kv) => {
    await store.addVersion(draft("f", "sha256:same"), "shared", []);
    await store.addVersion(draft("g", "sha256:same"), "shared", []);
    await store.addVersion(draft("f", "sha256:other"), "other", []);
    await store.deleteVersion("f", 1);
    assert.equal(await store.getSource("sha256:same"), "shared");
    await assert.rejects(store.deleteVersion("f", 2), ConflictError);
    await store.deleteFunction("g");
    await assert.rejects(store.getSource("sha256:same"), NotFoundError);
    await assert.rejects(
      store.getVersion("g", 1),
      (e) => e instanceof NotFoundError && e.message === "Unknown function 'g'",
    );
    await assert.rejects(
      store.getVersion("f", 1),
      (e) => e instanceof NotFoundError && e.message === "Function 'f' has no version 1",
    );
    assert.equal((await kv.get(FUNCTION_KEYS.fn("g"))).value, null);
  });
});

Deno.test("FunctionStore keeps the newest runs, results and lineage only", async () => {
  await withStore(async (store) => {
    for (let v = 1; v <= 6; v++) {
      await store.putRun({
        pipeline: "p",
        version: v,
        state: "succeeded",
        attempts: 1,
        startedAt: v,
      }, 3);
      await store.putResult("p", v, {
        json: String(v),
        lineage: {
          function: { name: "f", version: 1, digest: "d" },
          source: { dataset: "s", version: v },
          createdAt: v,
        },
      }, 3);
    }
    assert.deepEqual((await store.listRuns("p", 10)).map((r) => r.version), [6, 5, 4]);
    assert.deepEqual(await store.resultVersions("p", 10), [6, 5, 4]);
    assert.equal(await store.getResult("p", 3), undefined);
    await store.deletePipeline("p");
    assert.deepEqual(await store.listRuns("p", 10), []);
  });
});
