import assert from "node:assert/strict";
import consumerNear from "../../placements/consumer_near.ts";
import { InvalidRequestError, LostError, StrataError, UnavailableError } from "../errors.ts";
import { particlesDescription } from "../../tests/_fixtures.ts";
import type { NamedPolicy, PlacementRequest } from "../tiers/policy.ts";
import { WireClient } from "../wire/client.ts";
import { copyKey } from "../tiers/copy_keys.ts";
import { Runtime, type SendReplica } from "./runtime.ts";
import { withCluster } from "./_test_cluster.ts";

const PARTICLES = particlesDescription({
  fragments: ["fragment xyz columnar { var p { x float32, y float32, z float32 } = p }"],
});

const nearPolicy: NamedPolicy = { name: "consumer-near", place: consumerNear };

/** A policy that keeps a copy in memory on the publishing node and on node `b`. */
const twoCopies: NamedPolicy = {
  name: "two-copies",
  place: (r: PlacementRequest) => ({
    copies: [{ node: r.node, tier: "memory" }, { node: "b", tier: "memory" }],
    reshape: "destination",
  }),
};

function particles(): Uint8Array {
  const v = new DataView(new ArrayBuffer(1000 * 32));
  for (let i = 0; i < 1000; i++) {
    v.setFloat64(i * 32, i + 0.5, true);
    v.setFloat64(i * 32 + 8, -i, true);
    v.setFloat64(i * 32 + 16, i * 2, true);
    v.setBigInt64(i * 32 + 24, BigInt(9000 + i), true);
  }
  return new Uint8Array(v.buffer);
}

const whole = { dataset: "particles", fragment: "part", bindings: { lo: 0, hi: 1000 } };
const keyOf = (version: number) => copyKey("particles", version, "part", { lo: 0, hi: 1000 });

Deno.test("consumer-near on node a places the copy on the consumers' node b, over the data plane", async () => {
  await withCluster(
    ["a", "b", "c"],
    async (registry, n) => {
      await registry.createDataset({ name: "particles", description: PARTICLES, consumers: ["b"] });
      const bytes = particles();
      const { committed, record } = await n.a!.runtime.publish({ ...whole, version: 1, bytes });
      assert.equal(committed, true);
      assert.deepEqual([record.node, record.tier, record.reshape, record.replicas], [
        "b",
        "memory",
        "source",
        undefined,
      ]);
      // The bytes left a only once b held them and the registry named b.
      assert.equal(n.a!.runtime.tiers.holds(keyOf(1)), false);
      assert.equal(n.b!.runtime.tiers.holds(keyOf(1)), true);
      const found = await registry.attachFragments({ ...whole, version: 1 });
      assert.deepEqual(found.sources.map((s) => [s.node, s.tier]), [["b", "memory"]]);
      for (const node of ["a", "b", "c"]) {
        const got = await n[node]!.runtime.attach({ ...whole, version: 1 });
        assert.deepEqual(got.bytes, bytes, `attach on ${node}`);
      }
      // Reshaped where the policy said (at b) for another node's columnar attach.
      const cols = await n.c!.runtime.attach({
        ...whole,
        fragment: "xyz",
        bindings: {},
        version: 1,
      });
      const f = new Float32Array(cols.bytes.buffer, cols.bytes.byteOffset, 3000);
      assert.deepEqual([f[7], f[1000 + 7], f[2000 + 7]], [7.5, -7, 14]);
    },
    { policies: { a: nearPolicy } },
  );
});

Deno.test("a copy replicated on two nodes is read from the nearest, survives one node, and is freed on both", async () => {
  await withCluster(["a", "b", "c"], async (registry, n) => {
    await registry.createDataset({ name: "particles", description: PARTICLES, retention: 1 });
    const bytes = particles();
    const { record } = await n.a!.runtime.publish({ ...whole, version: 1, bytes });
    assert.deepEqual([record.node, record.replicas], ["a", [{ node: "b", tier: "memory" }]]);
    assert.equal(n.a!.runtime.tiers.holds(keyOf(1)), true);
    assert.equal(n.b!.runtime.tiers.holds(keyOf(1)), true);
    const found = await registry.attachFragments({ ...whole, version: 1 });
    assert.deepEqual(found.sources[0]!.replicas, [{ node: "b", tier: "memory" }]);
    // Node a's data plane goes away: c reads b's replica instead.
    await n.a!.server.close();
    n.c!.client.close();
    const c = new Runtime({
      node: "c",
      names: registry,
      tiers: n.c!.runtime.tiers,
      wire: new WireClient({ node: "c" }),
    });
    assert.deepEqual((await c.attach({ ...whole, version: 1 })).bytes, bytes);
    // Retention 1: committing version 2 frees version 1 on both nodes.
    await n.b!.runtime.publish({ ...whole, version: 2, bytes });
    assert.equal(n.a!.runtime.tiers.holds(keyOf(1)), false);
    assert.equal(n.b!.runtime.tiers.holds(keyOf(1)), false);
  }, { policies: { a: twoCopies } });
});

Deno.test("a copy gone from its primary node while that node is up is read from the replica on another node", async () => {
  await withCluster(["a", "b", "c"], async (registry, n) => {
    await registry.createDataset({ name: "particles", description: PARTICLES });
    const bytes = particles();
    const { record } = await n.a!.runtime.publish({ ...whole, version: 1, bytes });
    assert.deepEqual([record.node, record.replicas], ["a", [{ node: "b", tier: "memory" }]]);
    // Node a stays up, its data plane answers, but its copy is gone.
    await n.a!.runtime.tiers.delete(keyOf(1));
    assert.equal(n.a!.runtime.tiers.holds(keyOf(1)), false);
    // c asks a first: a answers that the copy is lost, and c reads b's replica.
    assert.deepEqual((await n.c!.runtime.attach({ ...whole, version: 1 })).bytes, bytes);
    // a itself reads b's replica too.
    assert.deepEqual((await n.a!.runtime.attach({ ...whole, version: 1 })).bytes, bytes);
    // With the replica gone as well, the attach fails with the lost copy, named.
    await n.b!.runtime.tiers.delete(keyOf(1));
    await assert.rejects(
      n.c!.runtime.attach({ ...whole, version: 1 }),
      (e) =>
        e instanceof LostError && e.code === "gone" && e.dataset === "particles" &&
        e.version === 1 && e.node === "a",
    );
  }, { policies: { a: twoCopies } });
});

Deno.test("a replica that cannot be placed leaves the copy on the publishing node, complete", async () => {
  const refuse = (): SendReplica => () => Promise.reject(new UnavailableError("node 'b' refused"));
  await withCluster(
    ["a", "b"],
    async (registry, n) => {
      await registry.createDataset({ name: "particles", description: PARTICLES, consumers: ["b"] });
      const bytes = particles();
      const { record } = await n.a!.runtime.publish({ ...whole, version: 1, bytes });
      assert.deepEqual([record.node, record.replicas], ["a", undefined]);
      assert.equal(n.a!.runtime.tiers.holds(keyOf(1)), true);
      assert.equal(n.b!.runtime.tiers.holds(keyOf(1)), false);
      assert.deepEqual((await n.b!.runtime.attach({ ...whole, version: 1 })).bytes, bytes);
    },
    { policies: { a: nearPolicy }, send: refuse },
  );
});

Deno.test("replicate() refuses its own copy, an unknown tier, and a copy no longer registered", async () => {
  await withCluster(["a", "b"], async (registry, n) => {
    await registry.createDataset({ name: "particles", description: PARTICLES, retention: 1 });
    const { record } = await n.a!.runtime.publish({ ...whole, version: 1, bytes: particles() });
    await assert.rejects(
      n.a!.runtime.replicate({ copy: record, tier: "memory" }),
      (e) => e instanceof InvalidRequestError && /holds the copy already/.test(e.message),
    );
    await assert.rejects(
      n.b!.runtime.replicate({ copy: record, tier: "nvme" }),
      (e) =>
        e instanceof InvalidRequestError && /no such tier \(it has memory, file\)/.test(e.message),
    );
    await n.a!.runtime.publish({ ...whole, version: 2, bytes: particles() });
    await assert.rejects(
      n.b!.runtime.replicate({ copy: record, tier: "memory" }),
      (e) =>
        e instanceof StrataError && e.code === "gone" && /Version 1 of 'particles'/.test(e.message),
    );
    assert.equal(n.b!.runtime.tiers.holds(keyOf(1)), false);
    // A replica of a live copy is kept and registered.
    const live = (await registry.attachFragments({ ...whole, version: 2 })).sources[0]!;
    assert.deepEqual(await n.b!.runtime.replicate({ copy: live, tier: "file" }), { tier: "file" });
    assert.deepEqual(
      (await registry.attachFragments({ ...whole, version: 2 })).sources[0]!.replicas,
      [{ node: "b", tier: "file" }],
    );
  });
});
