import assert from "node:assert/strict";
import { openRegistry } from "../registry/registry.ts";
import type { NameService } from "../name_service/name_service.ts";
import type { FragmentRecord } from "../registry/records.ts";
import { copyKey } from "../tiers/copy_keys.ts";
import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
import { Runtime } from "./runtime.ts";

Deno.test("A replayed release notice leaves alone a copy the registry names again under its key", async () => {
  await using registry = await openRegistry({ path: ":memory:" });
  // The registry, with its release notices delivered by the test.
  let deliver: (copies: readonly FragmentRecord[], replayed?: boolean) => void = () => {};
  const names = new Proxy(registry, {
    get(target, key) {
      if (key === "onRelease") {
        return (l: typeof deliver) => {
          deliver = l;
          return () => {};
        };
      }
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as unknown as NameService;
  const spec = {
    name: "memory",
    kind: "memory",
    capacity: 1 << 20,
    ...KIND_DEFAULTS.memory,
  } as const;
  const tiers = new TierSet({
    node: "n1",
    tiers: [{ tier: new MemoryTier("memory", 1 << 20), spec }],
  });
  await using runtime = new Runtime({ node: "n1", names, tiers });
  const ref = { dataset: "d", fragment: "dataset", bindings: {} };
  const bytes = new Uint8Array(new Float64Array([1, 2, 3, 4]).buffer);
  const settle = () => new Promise((r) => setTimeout(r, 50));

  // Version 1 of a dataset created again under an old name: the notice of
  // the first dataset's version 1, read again after a restart, names its key.
  await registry.createDataset({
    name: "d",
    description: "dataset { var x [4]float64 }",
    retention: 1,
  });
  await runtime.publish({ ...ref, version: 1, bytes });
  const stale: FragmentRecord = {
    ...ref,
    version: 1,
    node: "n1",
    tier: "memory",
    byteLength: 32,
    checksum: 0,
  };
  const key = copyKey("d", 1, "dataset", {});
  deliver([stale], true);
  await settle();
  assert.ok(tiers.holds(key), "a replayed notice freed a copy the registry names");
  assert.deepEqual((await runtime.attach({ ...ref, version: 1 })).bytes, bytes);

  // Once version 2 retires version 1, the same replayed notice frees it.
  await runtime.publish({ ...ref, version: 2, bytes });
  deliver([stale], true);
  await settle();
  assert.equal(tiers.holds(key), false);
});
