import assert from "node:assert/strict";
import { StrataError } from "../errors.ts";
import { openRegistry } from "../registry/registry.ts";
import { openMemoryAndFile } from "../tiers/memory_and_file.ts";
import { Runtime } from "./runtime.ts";
import { interceptNames } from "./_test_cluster.ts";

const DESCRIPTION = `dataset steps { var t [4]float64 }`;

/** A runtime over an in-process registry that counts the calls it makes to it. */
async function withRuntime(
  fn: (
    runtime: Runtime,
    publish: (v: number) => Promise<void>,
    calls: () => string[],
  ) => Promise<void>,
) {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  const calls: string[] = [];
  const names = interceptNames(registry, {
    waitForVersion: (original) => (...args) => {
      calls.push("waitForVersion");
      return original(...args);
    },
    attachFragments: (original) => (...args) => {
      calls.push("attachFragments");
      return original(...args);
    },
  });
  try {
    const runtime = new Runtime({
      node: "a",
      names,
      tiers: await openMemoryAndFile({ node: "a", dataDir: dir, memory: 1 << 20, file: 1 << 20 }),
    });
    await registry.createDataset({ name: "steps", description: DESCRIPTION, retention: 8 });
    const publish = async (v: number) => {
      await runtime.publish({
        dataset: "steps",
        version: v,
        fragment: "dataset",
        bindings: {},
        bytes: new Uint8Array(new Float64Array([v, v, v, v]).buffer),
      });
    };
    await fn(runtime, publish, () => calls.splice(0));
  } finally {
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const attach = (runtime: Runtime, version: number, waitMs: number) =>
  runtime.attach({ dataset: "steps", version, fragment: "dataset", bindings: {}, waitMs });

Deno.test("Runtime.attach() with wait finds a committed version in one call", async () => {
  await withRuntime(async (runtime, publish, calls) => {
    await publish(1);
    await publish(2);
    calls();
    const got = await attach(runtime, 1, 1000);
    assert.equal(got.version, 1);
    assert.deepEqual([...new Float64Array(got.bytes.buffer)], [1, 1, 1, 1]);
    assert.deepEqual(calls(), ["attachFragments"]);
  });
});

Deno.test("Runtime.attach() with wait waits for a version not committed yet, in one call", async () => {
  await withRuntime(async (runtime, publish, calls) => {
    await publish(1);
    calls();
    const pending = attach(runtime, 2, 5000);
    await new Promise((r) => setTimeout(r, 20));
    await publish(2);
    const got = await pending;
    assert.equal(got.version, 2);
    assert.deepEqual([...new Float64Array(got.bytes.buffer)], [2, 2, 2, 2]);
    assert.deepEqual(calls(), ["attachFragments"]);
    await assert.rejects(
      attach(runtime, 3, 30),
      (e) => e instanceof StrataError && e.code === "timeout",
    );
  });
});
