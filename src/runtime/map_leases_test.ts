import assert from "node:assert/strict";
import { MapLeases } from "./map_leases.ts";
import { ShmTier } from "../tiers/shm_tier.ts";
import { MemoryTier } from "../tiers/memory_tier.ts";
import { TierSet } from "../tiers/tier_set.ts";
import { KIND_DEFAULTS } from "../tiers/mod.ts";
import { StrataError } from "../errors.ts";

async function shmSet(capacity: number) {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const shm = await ShmTier.open("shm", `${dir}/shm`, capacity);
  const slow = new MemoryTier("slow", 1 << 20);
  const tiers = new TierSet({
    node: "n1",
    tiers: [
      { tier: shm, spec: { name: "shm", kind: "shm", capacity, ...KIND_DEFAULTS.shm } },
      {
        tier: slow,
        spec: {
          name: "slow",
          kind: "memory",
          capacity: 1 << 20,
          ...KIND_DEFAULTS.memory,
          bandwidth: 1e8,
          latency: 1e-3,
        },
      },
    ],
  });
  const fragment = (version: number) => ({
    dataset: "d",
    version,
    fragment: "dataset",
    bindings: {},
    byteLength: 64,
    durable: false,
    consumers: [],
  });
  return { dir, shm, tiers, fragment };
}

Deno.test("MapLeases keeps a leased copy off the spill rule and its bytes after the tier frees it", async () => {
  const { dir, tiers, fragment } = await shmSet(100);
  const leases = new MapLeases(tiers);
  await tiers.store("d/1", new Uint8Array(64).fill(1), fragment(1));
  const grant = await leases.grant("d/1", 64);
  assert.ok(grant !== undefined);
  assert.equal(grant.tier, "shm");
  // A second copy needs the room: the leased one may not spill, so it goes below.
  await tiers.store("d/2", new Uint8Array(64).fill(2), fragment(2));
  assert.deepEqual(tiers.tiersOf("d/1"), ["shm"]);
  assert.deepEqual(tiers.tiersOf("d/2"), ["slow"]);
  // Overwritten, then freed: the lease still reads the bytes it was granted.
  await tiers.store("d/1", new Uint8Array(64).fill(9), fragment(1));
  await tiers.delete("d/1");
  assert.deepEqual(await Deno.readFile(grant.path), new Uint8Array(64).fill(1));
  assert.equal(await leases.release(grant.lease), true);
  assert.equal(await leases.release(grant.lease), false);
  await assert.rejects(() => Deno.stat(grant.path), Deno.errors.NotFound);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("MapLeases releases the pin when a lease is released, so the copy spills again", async () => {
  const { dir, tiers, fragment } = await shmSet(100);
  const leases = new MapLeases(tiers);
  await tiers.store("d/1", new Uint8Array(64).fill(1), fragment(1));
  const grant = await leases.grant("d/1", 64);
  assert.ok(grant !== undefined);
  await leases.release(grant.lease);
  await tiers.store("d/2", new Uint8Array(64).fill(2), fragment(2));
  assert.deepEqual(tiers.tiersOf("d/1"), ["slow"]);
  assert.deepEqual(tiers.tiersOf("d/2"), ["shm"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("MapLeases grants nothing for a copy that no shm tier holds", async () => {
  const { dir, tiers } = await shmSet(100);
  const leases = new MapLeases(tiers);
  assert.equal(await leases.grant("d/404", 64), undefined);
  assert.equal(leases.size, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("MapLeases expires a lease that is not renewed, and renews one that is", async () => {
  const { dir, tiers, fragment } = await shmSet(1000);
  let now = 1_000;
  const leases = new MapLeases(tiers, { ttlMs: 100, now: () => now });
  await tiers.store("d/1", new Uint8Array(64).fill(1), fragment(1));
  const a = (await leases.grant("d/1", 64))!;
  const b = (await leases.grant("d/1", 64))!;
  now += 60;
  assert.equal(leases.renew(b.lease).expiresAt, now + 100);
  now += 60;
  assert.throws(
    () => leases.renew(a.lease),
    (e: unknown) => e instanceof StrataError && e.code === "not_found",
  );
  assert.equal(await leases.grant("d/none", 64), undefined); // a grant sweeps the expired
  assert.equal(leases.size, 1);
  await assert.rejects(() => Deno.stat(a.path), Deno.errors.NotFound);
  assert.ok((await Deno.stat(b.path)).isFile);
  await leases.close();
  assert.equal(leases.size, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("MapLeases refuses a lease past its bound (busy) or longer than the longest", async () => {
  const { dir, tiers, fragment } = await shmSet(1000);
  const leases = new MapLeases(tiers, { maxLeases: 2, ttlMs: 500, maxTtlMs: 1000 });
  await tiers.store("d/1", new Uint8Array(64), fragment(1));
  await leases.grant("d/1", 64);
  await leases.grant("d/1", 64);
  await assert.rejects(
    () => leases.grant("d/1", 64),
    (e: unknown) => e instanceof StrataError && e.code === "busy",
  );
  await assert.rejects(
    () => leases.grant("d/1", 64, { ttlMs: 5000 }),
    (e: unknown) => e instanceof StrataError && e.code === "invalid_request",
  );
  await leases.close();
  await Deno.remove(dir, { recursive: true });
});
