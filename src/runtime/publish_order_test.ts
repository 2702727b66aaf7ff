import assert from "node:assert/strict";
import { openRegistry } from "../registry/registry.ts";
import { openMemoryAndFile } from "../tiers/memory_and_file.ts";
import { Runtime } from "./runtime.ts";
import { interceptNames } from "./_test_cluster.ts";

const DESCRIPTION = `dataset steps { var t [524288]float64 }
fragment head { var t = t[0:16] }`;

Deno.test("Runtime.publish() registers concurrent publishes of a dataset in call order", async () => {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  const registered: number[] = [];
  const names = interceptNames(registry, {
    publishFragment: (original) => (record) => {
      registered.push(record.version);
      return original(record);
    },
  });
  try {
    const runtime = new Runtime({
      node: "a",
      names,
      tiers: await openMemoryAndFile({ node: "a", dataDir: dir, memory: 1 << 24, file: 1 << 20 }),
    });
    await registry.createDataset({ name: "steps", description: DESCRIPTION, retention: 4 });
    // The first one's CRC-32 takes several pieces, the second's one: it would finish first.
    const whole = { dataset: "steps", fragment: "dataset", bindings: {} };
    const results = await Promise.all([
      runtime.publish({ ...whole, version: 1, bytes: new Uint8Array(4 << 20).fill(1) }),
      runtime.publish({ ...whole, version: 2, fragment: "head", bytes: new Uint8Array(128) }),
      runtime.publish({ ...whole, version: 3, bytes: new Uint8Array(4 << 20).fill(3) }),
    ]);
    assert.deepEqual(registered, [1, 2, 3]);
    assert.deepEqual(results.map((r) => r.committed), [true, false, true]);
  } finally {
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
});
