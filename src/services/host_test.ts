import assert from "node:assert/strict";
import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
import { defineService, ServiceHost } from "./mod.ts";
import type { ServiceMeta } from "./meta.ts";

Deno.test("ServiceHost sweeps a service's unnamed blobs every blobSweepMs", async () => {
  const spec = { name: "mem", kind: "memory", capacity: 1 << 22, ...KIND_DEFAULTS.memory } as const;
  const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 22), spec }] });
  const kv = await Deno.openKv(":memory:");
  let meta: ServiceMeta | undefined;
  const keeper = defineService({
    name: "keeper",
    options: [],
    open: (ctx) => {
      meta = ctx.meta;
      return Promise.resolve({
        name: ctx.name,
        operations: {},
        info: () => ({}),
        close: () => Promise.resolve(),
      });
    },
  });
  const config = {
    keeper: {
      enabled: true,
      targets: 1,
      virtualNodes: 4,
      durable: false,
      maxBodyBytes: 1024,
      options: {},
      runtimes: [],
      blobSweepMs: 1000,
    },
  };
  const host = await ServiceHost.open({ kv, tiers, config, definitions: [keeper] });
  try {
    const orphan = await meta!.blobs.put(new Uint8Array(70_000));
    const deadline = Date.now() + 10_000;
    while (meta!.blobs.heldIds().includes(orphan.id)) {
      assert.ok(Date.now() < deadline, "the orphan blob is still held after 10 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await host.close();
    kv.close();
  }
});
