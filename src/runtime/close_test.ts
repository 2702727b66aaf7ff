import assert from "node:assert/strict";
import type { NameService } from "../name_service/name_service.ts";
import { KIND_DEFAULTS, MemoryTier, TierSet } from "../tiers/mod.ts";
import { Runtime } from "./runtime.ts";

/** A name service that only counts who listens to its release notices. */
function listenedNames(): { names: NameService; listeners: () => number } {
  let listeners = 0;
  const names = {
    onRelease: () => {
      listeners++;
      return () => void listeners--;
    },
  } as unknown as NameService;
  return { names, listeners: () => listeners };
}

function memoryTiers(): TierSet {
  const spec = { name: "memory", kind: "memory", capacity: 1024, ...KIND_DEFAULTS.memory } as const;
  return new TierSet({ node: "n1", tiers: [{ tier: new MemoryTier("memory", 1024), spec }] });
}

Deno.test("Runtime.close() stops hearing release notices, and a second close does nothing", async () => {
  const { names, listeners } = listenedNames();
  const runtime = new Runtime({ node: "n1", names, tiers: memoryTiers() });
  assert.equal(listeners(), 1);
  await runtime.close();
  assert.equal(listeners(), 0);
  await runtime.close();
  assert.equal(listeners(), 0);
});

Deno.test("Runtime closes at the end of an `await using` block", async () => {
  const { names, listeners } = listenedNames();
  {
    await using runtime = new Runtime({ node: "n1", names, tiers: memoryTiers() });
    assert.equal(runtime.node, "n1");
    assert.equal(listeners(), 1);
  }
  assert.equal(listeners(), 0);
});
