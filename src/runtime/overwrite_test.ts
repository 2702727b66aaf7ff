import assert from "node:assert/strict";
import { withDir } from "../../tests/_fixtures.ts";
import { openRegistry, type Registry } from "../registry/registry.ts";
import { FileTier } from "../tiers/file_tier.ts";
import { MemoryTier } from "../tiers/memory_tier.ts";
import { KIND_DEFAULTS } from "../tiers/tier_config.ts";
import { TierSet } from "../tiers/tier_set.ts";
import type { NameService } from "../name_service/name_service.ts";
import { Runtime } from "./runtime.ts";

const GRID = `dataset grid { var t [4, 4]float32 }
fragment rows(r0, r1) { var t = t[r0:r1, :] }`;

/** Rows 0 and 1: half the dataset, so the version stays open until committed. */
const HALF = { r0: 0, r1: 2 };

/** A runtime over a registry and a file tier on disk under `dir`; `names` wraps the registry. */
async function start(dir: string, wrap: (r: Registry) => NameService = (r) => r) {
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  const spec = (name: string, kind: "memory" | "file") => ({
    name,
    kind,
    capacity: 1 << 20,
    ...KIND_DEFAULTS[kind],
  });
  const tiers = new TierSet({
    node: "n1",
    tiers: [
      { tier: new MemoryTier("memory", 1 << 20), spec: spec("memory", "memory") },
      { tier: await FileTier.open("file", `${dir}/file`, 1 << 20), spec: spec("file", "file") },
    ],
  });
  return { registry, tiers, runtime: new Runtime({ node: "n1", names: wrap(registry), tiers }) };
}

/** The name service of `r`, whose process "dies" around the registration of a copy. */
function dying(r: Registry, when: "before" | "after"): NameService {
  return new Proxy(r, {
    get(target, prop) {
      if (prop === "publishFragment") {
        return async (record: Parameters<Registry["publishFragment"]>[0]) => {
          if (when === "after") await target.publishFragment(record);
          throw new Error("killed");
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as NameService;
}

const grid = (k: number) =>
  new Uint8Array(Float32Array.from({ length: 8 }, (_, i) => i + 100 * k).buffer);

/** Attaches rows 0 and 1 of version 1 of `g`. */
async function attachHalf(rt: Runtime): Promise<Uint8Array> {
  return (await rt.attach({ dataset: "g", version: 1, fragment: "rows", bindings: HALF })).bytes;
}

const publish = (rt: Runtime, k: number) =>
  rt.publish({ dataset: "g", version: 1, fragment: "rows", bindings: HALF, bytes: grid(k) });

for (const when of ["before", "after"] as const) {
  Deno.test(`Runtime.publish() of an overwrite killed ${when} its registration leaves the bytes its record names`, async () => {
    await withDir(async (dir) => {
      const a = await start(dir);
      await a.registry.createDataset({
        name: "g",
        description: GRID,
        durable: true,
        overwrite: true,
      });
      await publish(a.runtime, 1);
      a.registry.close();
      // The process dies around the registration of the overwrite.
      const b = await start(dir, (r) => dying(r, when));
      await assert.rejects(publish(b.runtime, 2), /killed/);
      b.registry.close();
      const c = await start(dir);
      try {
        await c.registry.commitVersion("g", 1);
        assert.deepEqual(await attachHalf(c.runtime), grid(when === "before" ? 1 : 2));
        // Freeing the version frees the staged bytes with it.
        const found = await c.registry.attachFragments({
          dataset: "g",
          version: 1,
          fragment: "rows",
          bindings: HALF,
        });
        await c.runtime.free(found.sources);
        assert.deepEqual(c.tiers.keys(), []);
      } finally {
        c.registry.close();
      }
    });
  });
}

Deno.test("Runtime.publish() of an overwrite the name server refuses keeps the old bytes only", async () => {
  await withDir(async (dir) => {
    const a = await start(dir);
    try {
      await a.registry.createDataset({ name: "g", description: GRID, durable: true });
      await publish(a.runtime, 1);
      await assert.rejects(publish(a.runtime, 2), /write-once/);
      assert.deepEqual(a.tiers.keys(), ["g/1/rows/r0=0,r1=2"]);
      await a.registry.commitVersion("g", 1);
      assert.deepEqual(await attachHalf(a.runtime), grid(1));
    } finally {
      a.registry.close();
    }
  });
});

Deno.test("Runtime.publish() of overwrites serves the last bytes and holds one copy", async () => {
  await withDir(async (dir) => {
    const a = await start(dir);
    try {
      await a.registry.createDataset({
        name: "g",
        description: GRID,
        overwrite: true,
        durable: true,
      });
      for (const k of [1, 2, 3]) await publish(a.runtime, k);
      await a.registry.commitVersion("g", 1);
      assert.deepEqual(a.tiers.keys(), ["g/1/rows/r0=0,r1=2"]);
      assert.deepEqual(await attachHalf(a.runtime), grid(3));
    } finally {
      a.registry.close();
    }
  });
});
