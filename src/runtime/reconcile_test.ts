import assert from "node:assert/strict";
import { openRegistry } from "../registry/registry.ts";
import { openMemoryAndFile } from "../tiers/memory_and_file.ts";
import type { NameService } from "../name_service/name_service.ts";
import { Runtime } from "./runtime.ts";
import { interceptNames } from "./_test_cluster.ts";

const DESCRIPTION = `dataset kept { var t [4]float64 }`;

function bytesOf(v: number): Uint8Array {
  return new Uint8Array(new Float64Array([v, v, v, v]).buffer);
}

/** A data directory whose file tier holds versions 1 and 2 registered, and version 3 stored but never registered. */
const openTiers = (dir: string) =>
  openMemoryAndFile({ node: "a", dataDir: dir, memory: 1 << 20, file: 1 << 20 });

async function crashedNode(
  fn: (
    dir: string,
    registry: Awaited<ReturnType<typeof openRegistry>>,
    tiers: Awaited<ReturnType<typeof openTiers>>,
  ) => Promise<void>,
): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "reconcile_" });
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  try {
    await registry.createDataset({
      name: "kept",
      description: DESCRIPTION,
      durable: true,
      retention: 8,
    });
    const before = new Runtime({
      node: "a",
      names: registry,
      tiers: await openTiers(dir),
    });
    for (const v of [1, 2]) {
      await before.publish({
        dataset: "kept",
        version: v,
        fragment: "dataset",
        bindings: {},
        bytes: bytesOf(v),
      });
    }
    // The process died between storing version 3 and registering it.
    const names = [...Deno.readDirSync(`${dir}/file`)].map((e) => e.name);
    const one = names.find((n) => n.includes("1~2fdataset"))!;
    await Deno.copyFile(`${dir}/file/${one}`, `${dir}/file/${one.replace("1~2f", "3~2f")}`);
    // The node starts again on the same directory.
    await fn(dir, registry, await openTiers(dir));
  } finally {
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("reconcile() frees the copies found at start that no name server counts as this node's", async () => {
  await crashedNode(async (dir, registry, tiers) => {
    const runtime = new Runtime({ node: "a", names: registry, tiers });
    assert.deepEqual(tiers.foundAtOpen().sort(), [
      "kept/1/dataset/",
      "kept/2/dataset/",
      "kept/3/dataset/",
    ]);
    assert.deepEqual(await runtime.reconcile(), ["kept/3/dataset/"]);
    assert.deepEqual(tiers.keys().sort(), ["kept/1/dataset/", "kept/2/dataset/"]);
    assert.equal([...Deno.readDirSync(`${dir}/file`)].length, 2);
    const got = await runtime.attach({
      dataset: "kept",
      version: 2,
      fragment: "dataset",
      bindings: {},
    });
    assert.deepEqual(got.bytes, bytesOf(2));
    // Nothing is left to free the second time.
    assert.deepEqual(await runtime.reconcile(), []);
  });
});

Deno.test("reconcile() never frees a copy written again since the start", async () => {
  await crashedNode(async (_dir, registry, tiers) => {
    // While the name server is asked, version 3 is published for real.
    const heldCopies: NameService["heldCopies"] = async (copies) => {
      await runtime.publish({
        dataset: "kept",
        version: 3,
        fragment: "dataset",
        bindings: {},
        bytes: bytesOf(3),
      });
      return copies.map((c) => c.version === 2);
    };
    const names = interceptNames(registry, { heldCopies: () => heldCopies });
    const runtime = new Runtime({ node: "a", names, tiers });
    // Version 1 was (as far as this name server says) never registered; 3 is new bytes now.
    assert.deepEqual(await runtime.reconcile(), ["kept/1/dataset/"]);
    const got = await runtime.attach({
      dataset: "kept",
      version: 3,
      fragment: "dataset",
      bindings: {},
    });
    assert.deepEqual(got.bytes, bytesOf(3));
  });
});
