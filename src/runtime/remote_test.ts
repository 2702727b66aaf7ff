import assert from "node:assert/strict";
import { LostError, UnavailableError } from "../errors.ts";
import { particlesDescription, XYZ } from "../../tests/_fixtures.ts";
import { withCluster } from "./_test_cluster.ts";

const PARTICLES = particlesDescription({
  fragments: [XYZ, "fragment ids { var p [i] { id } = p[i*2] }"],
});

function particles(lo: number, hi: number): Uint8Array {
  const v = new DataView(new ArrayBuffer((hi - lo) * 32));
  for (let i = lo; i < hi; i++) {
    const at = (i - lo) * 32;
    v.setFloat64(at, i + 0.5, true);
    v.setFloat64(at + 8, -i, true);
    v.setFloat64(at + 16, i * 2, true);
    v.setBigInt64(at + 24, BigInt(9000 + i), true);
  }
  return new Uint8Array(v.buffer);
}

for (const reshape of ["source", "destination", "auto"] as const) {
  Deno.test(`Runtime.attach() on node b reads copies held by nodes a and c, reshape at ${reshape}`, async () => {
    await withCluster(["a", "b", "c"], async (registry, n) => {
      await registry.createDataset({ name: "particles", description: PARTICLES });
      await n.a!.runtime.publish({
        dataset: "particles",
        version: 1,
        fragment: "part",
        bindings: { lo: 0, hi: 600 },
        bytes: particles(0, 600),
      });
      await n.c!.runtime.publish({
        dataset: "particles",
        version: 1,
        fragment: "part",
        bindings: { lo: 600, hi: 1000 },
        bytes: particles(600, 1000),
      });
      const got = await n.b!.runtime.attach({
        dataset: "particles",
        version: "latest",
        fragment: "xyz",
        bindings: { lo: 500, hi: 700 },
        reshape,
      });
      const x = new Float32Array(got.bytes.buffer, 0, 200);
      const z = new Float32Array(got.bytes.buffer, 1600, 200);
      for (let k = 0; k < 200; k++) {
        assert.equal(x[k], 500 + k + 0.5);
        assert.equal(z[k], (500 + k) * 2);
      }
      const ids = await n.b!.runtime.attach({
        dataset: "particles",
        version: 1,
        fragment: "ids",
        bindings: {},
        reshape,
      });
      const id = new BigInt64Array(ids.bytes.buffer);
      assert.equal(id.length, 500);
      for (let k = 0; k < 500; k++) assert.equal(id[k], BigInt(9000 + 2 * k));
      // The same bytes as the holder itself attaches.
      const local = await n.a!.runtime.attach({
        dataset: "particles",
        version: 1,
        fragment: "part",
        bindings: { lo: 0, hi: 600 },
      });
      const remote = await n.b!.runtime.attach({
        dataset: "particles",
        version: 1,
        fragment: "part",
        bindings: { lo: 0, hi: 600 },
        reshape,
      });
      assert.deepEqual(remote.bytes, local.bytes);
    });
  });
}

Deno.test("Runtime.attach() names memory copies of a node whose lease lapsed as lost, file copies as unavailable", async () => {
  await withCluster(["a", "b"], async (registry, n) => {
    await registry.createDataset({ name: "fleeting", description: PARTICLES });
    await registry.createDataset({ name: "kept", description: PARTICLES, durable: true });
    for (const name of ["fleeting", "kept"]) {
      for (const lo of [0, 500]) {
        await n.a!.runtime.publish({
          dataset: name,
          version: 1,
          fragment: "part",
          bindings: { lo, hi: lo + 500 },
          bytes: particles(lo, lo + 500),
        });
      }
    }
    // Node a stops renewing: its lease (100 ms) lapses.
    await registry.registerNode({
      id: "a",
      url: "http://127.0.0.1:1",
      tiers: [],
      wire: `127.0.0.1:${n.a!.server.port}`,
    }, { leaseMs: 100 });
    while ((await registry.listNodes()).some((r) => r.id === "a")) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const attach = (dataset: string) =>
      n.b!.runtime.attach({
        dataset,
        version: 1,
        fragment: "xyz",
        bindings: { lo: 0, hi: 1000 },
      });
    await assert.rejects(attach("fleeting"), (e) => {
      assert.ok(e instanceof LostError);
      assert.equal(
        e.message,
        "Version 1 of 'fleeting' is lost: fragment 'part (hi=500,lo=0)', 'part (hi=1000,lo=500)' was held only in memory by node 'a', whose lease lapsed",
      );
      return true;
    });
    await assert.rejects(
      attach("kept"),
      (e) =>
        e instanceof UnavailableError &&
        e.message ===
          "Fragment 'part (hi=500,lo=0)' of version 1 of 'kept' is on the file tier of node 'a', which is down: it is served again when 'a' restarts",
    );
  });
});

Deno.test("Runtime.attach() on another node names a copy its holder lost", async () => {
  await withCluster(["a", "b"], async (registry, n) => {
    await registry.createDataset({ name: "particles", description: PARTICLES });
    await n.a!.runtime.publish({
      dataset: "particles",
      version: 1,
      fragment: "part",
      bindings: { lo: 0, hi: 1000 },
      bytes: particles(0, 1000),
    });
    // The holder loses its memory (as after a restart) but stays up.
    await n.a!.runtime.free([{
      dataset: "particles",
      version: 1,
      fragment: "part",
      bindings: { lo: 0, hi: 1000 },
      node: "a",
    }]);
    await assert.rejects(
      n.b!.runtime.attach({ dataset: "particles", version: 1, fragment: "ids", bindings: {} }),
      (e) =>
        e instanceof Error && "code" in e && e.code === "gone" &&
        e.message ===
          "Version 1 of 'particles' is lost: fragment 'part (hi=1000,lo=0)' is not on node 'a': it was held only in memory and is gone",
    );
  });
});
