import assert from "node:assert/strict";
import { StrataError } from "../errors.ts";
import { openRegistry } from "../registry/registry.ts";
import { openMemoryAndFile } from "../tiers/memory_and_file.ts";
import type { NameService } from "./name_service.ts";
import { Runtime } from "./runtime.ts";

const DESCRIPTION = `dataset steps { var t [4]float64 }`;

/** A runtime over an in-process registry that counts the waits it is asked for. */
async function withRuntime(
  fn: (
    runtime: Runtime,
    publish: (v: number) => Promise<void>,
    waits: () => number,
  ) => Promise<void>,
) {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  let waits = 0;
  const names = new Proxy(registry, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "waitForVersion") {
        return (...args: unknown[]) => {
          waits++;
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  }) as NameService;
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
    await fn(runtime, publish, () => waits);
  } finally {
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const attach = (runtime: Runtime, version: number, waitMs: number) =>
  runtime.attach({ dataset: "steps", version, fragment: "dataset", bindings: {}, waitMs });

Deno.test("Runtime.attach() with wait finds a committed version without waiting", async () => {
  await withRuntime(async (runtime, publish, waits) => {
    await publish(1);
    await publish(2);
    const got = await attach(runtime, 1, 1000);
    assert.equal(got.version, 1);
    assert.deepEqual([...new Float64Array(got.bytes.buffer)], [1, 1, 1, 1]);
    assert.equal(waits(), 0);
  });
});

Deno.test("Runtime.attach() with wait waits for a version not committed yet", async () => {
  await withRuntime(async (runtime, publish, waits) => {
    await publish(1);
    const pending = attach(runtime, 2, 5000);
    await new Promise((r) => setTimeout(r, 20));
    await publish(2);
    const got = await pending;
    assert.equal(got.version, 2);
    assert.deepEqual([...new Float64Array(got.bytes.buffer)], [2, 2, 2, 2]);
    assert.equal(waits(), 1);
    await assert.rejects(
      attach(runtime, 3, 30),
      (e) => e instanceof StrataError && e.code === "timeout",
    );
  });
});
