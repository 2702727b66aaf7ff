/**
 * Placement across nodes, as separate processes on loopback: a runtime whose
 * policy is consumer-near publishes a dataset whose consumers attach on
 * another node; the copy moves there over the data plane, so the consumers
 * read local bytes and the data outlives the publishing node.
 */
import assert from "node:assert/strict";
import { connect } from "../src/client/mod.ts";
import { type Proc, startNameserver, startRuntime } from "./_cluster.ts";

const FIELD = `dataset field {
  type P struct { x, y, z, energy float64 }
  var p [8192]P
}
fragment soa columnar { var p { x, energy } = p }`;

function field(): Float64Array {
  const a = new Float64Array(8192 * 4);
  for (let i = 0; i < 8192; i++) a.set([i, -i, 2 * i, i / 4], 4 * i);
  return a;
}

Deno.test("several nodes: consumer-near places a copy on the consumers' node, which serves it after the producer's node dies", async () => {
  const ns = await startNameserver();
  const procs: Proc[] = [ns];
  try {
    const b = await startRuntime("b", [ns]);
    const c = await startRuntime("c", [ns]);
    const a = await startRuntime("a", [ns], { config: "placement: consumer-near\n" });
    procs.push(b, c, a);
    const A = connect(a.url);
    await A.createDataset("field", FIELD, { consumers: ["b"] });
    const published = await A.publish("field", 1, "dataset", field()) as unknown as {
      committed: boolean;
      node: string;
      tier: string;
      reshape: string;
    };
    assert.deepEqual(
      [published.committed, published.node, published.tier, published.reshape],
      [true, "b", "memory", "source"],
    );
    // The copy left a: killing a loses nothing.
    await a.kill();
    for (const at of [b, c]) {
      const got = await connect(at.url).attach("field", "soa");
      const cols = new Float64Array(got.bytes.buffer, got.bytes.byteOffset, 2 * 8192);
      for (const k of [0, 17, 8191]) {
        assert.equal(cols[k], k, `x[${k}] on ${at.url}`);
        assert.equal(cols[8192 + k], k / 4, `energy[${k}] on ${at.url}`);
      }
    }
    const nodes = await (await fetch(`${b.url}/v1/nodes`)).json() as {
      nodes: { id: string; tiers: { name: string; count?: number }[] }[];
    };
    const here = nodes.nodes.find((n) => n.id === "b")!;
    assert.equal(here.tiers.find((t) => t.name === "memory")?.count, 1);
  } finally {
    for (const p of procs.reverse()) {
      try {
        await p.stop();
      } catch { /* killed already */ }
    }
  }
});
