import assert from "node:assert/strict";
import { LostError } from "../errors.ts";
import { openRegistry, type Registry } from "../registry/registry.ts";
import { openMemoryAndFile } from "../tiers/memory_and_file.ts";
import { Runtime } from "./runtime.ts";

const DESCRIPTION = `dataset steps { var t [4]float64 }`;

async function withRuntime(fn: (runtime: Runtime, registry: Registry) => Promise<void>) {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  try {
    const runtime = new Runtime({
      node: "a",
      names: registry,
      tiers: await openMemoryAndFile({ node: "a", dataDir: dir, memory: 1 << 20, file: 1 << 20 }),
    });
    registry.onRelease((copies) => void runtime.free(copies));
    await registry.createDataset({ name: "steps", description: DESCRIPTION, retention: 2 });
    await fn(runtime, registry);
  } finally {
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const publish = (runtime: Runtime, version: number, value: number) =>
  runtime.publish({
    dataset: "steps",
    version,
    fragment: "dataset",
    bindings: {},
    bytes: new Uint8Array(new Float64Array([value, value, value, value]).buffer),
  });

const shared = (runtime: Runtime, version: number | "latest") =>
  runtime.attachShared({ dataset: "steps", version, fragment: "dataset", bindings: {} });

const values = (bytes: Uint8Array) => [...new Float64Array(bytes.slice().buffer)];

Deno.test("Runtime.attachShared() answers a version it has served before from memory", async () => {
  await withRuntime(async (runtime) => {
    await publish(runtime, 1, 7);
    const first = await shared(runtime, 1);
    assert.deepEqual(values(first.bytes), [7, 7, 7, 7]);
    assert.equal(first.layoutJson, JSON.stringify(first.layout));
    assert.equal(await shared(runtime, 1), first);
    assert.equal(await shared(runtime, "latest"), first);
    await publish(runtime, 2, 8);
    const latest = await shared(runtime, "latest");
    assert.equal(latest.version, 2);
    assert.deepEqual(values(latest.bytes), [8, 8, 8, 8]);
  });
});

Deno.test("Runtime.attachShared() never serves a retired version or a dataset deleted and created again", async () => {
  await withRuntime(async (runtime, registry) => {
    await publish(runtime, 1, 1);
    await shared(runtime, 1);
    await publish(runtime, 2, 2);
    await publish(runtime, 3, 3);
    await assert.rejects(shared(runtime, 1), LostError);
    await shared(runtime, 3);
    await runtime.free(await registry.deleteDataset("steps"));
    await registry.createDataset({ name: "steps", description: DESCRIPTION });
    await publish(runtime, 3, 30);
    assert.deepEqual(values((await shared(runtime, 3)).bytes), [30, 30, 30, 30]);
  });
});

Deno.test("Runtime.attachShared() answers a whole local copy without copying it; an attach's copy is the caller's", async () => {
  await withRuntime(async (runtime, registry) => {
    const n = 1 << 17; // 1 MiB: past what the answer cache keeps
    await registry.createDataset({
      name: "big",
      description: `dataset big { var t [${n}]float64 }`,
    });
    // The runtime keeps the buffer a publish hands it.
    await runtime.publish({
      dataset: "big",
      version: 1,
      fragment: "dataset",
      bindings: {},
      bytes: new Uint8Array(new Float64Array(n).fill(5).buffer),
    });
    const req = { dataset: "big", version: 1, fragment: "dataset", bindings: {} } as const;
    const a = await runtime.attachShared(req);
    const b = await runtime.attachShared(req);
    // Both answers are the tier's own bytes, not copies of them.
    assert.equal(a.bytes.buffer, b.bytes.buffer);
    assert.deepEqual(new Set(new Float64Array(a.bytes.slice().buffer)), new Set([5]));
    // An attach for the caller to keep is a copy: changing it changes nothing stored.
    const own = await runtime.attach(req);
    assert.notEqual(own.bytes.buffer, a.bytes.buffer);
    own.bytes.fill(0);
    const again = await runtime.attachShared(req);
    assert.deepEqual(new Set(new Float64Array(again.bytes.slice().buffer)), new Set([5]));
  });
});
