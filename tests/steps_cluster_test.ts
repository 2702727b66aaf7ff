/**
 * Step streams across processes: a name server and two runtimes; versions
 * published through one runtime stream from the other, fetched over the data
 * plane and reshaped on the way; a crash of the producer's runtime ends the
 * stream with the error that names what was lost.
 */
import assert from "node:assert/strict";
import { connect, type Step } from "../src/client/mod.ts";
import { startCluster } from "./_cluster.ts";

// 64 KiB a version: past the 16 KiB a commit notice carries inline, so the bytes come
// from the runtime that holds them.
const N = 4096;
const PARTICLES = `dataset p {
  type P struct { x, y float64 }
  var q [${N}]P
}
fragment cols columnar { var q { x, y } = q }`;

function particles(v: number): Float64Array {
  const out = new Float64Array(2 * N);
  for (let i = 0; i < N; i++) {
    out[2 * i] = v * 10_000 + i;
    out[2 * i + 1] = -(v * 10_000 + i);
  }
  return out;
}

Deno.test("a runtime streams steps published through another runtime, reshaped, and reports the producer's crash", async () => {
  const cluster = await startCluster(["a", "b"], { leaseMs: 1500 });
  try {
    const [a, b] = cluster.runtimes as [typeof cluster.runtimes[0], typeof cluster.runtimes[0]];
    const producer = connect(a.url);
    const consumer = connect(b.url);
    await producer.createDataset("p", PARTICLES, { retention: 16 });
    const seen: Step[] = [];
    const reading = (async () => {
      for await (const step of consumer.steps("p", "cols", { from: 1, ahead: 4, waitMs: 20_000 })) {
        seen.push(step);
        if (seen.length === 6) return;
      }
    })();
    for (let v = 1; v <= 6; v++) await producer.publish("p", v, "dataset", particles(v));
    await reading;
    assert.deepEqual(seen.map((s) => s.version), [1, 2, 3, 4, 5, 6]);
    for (const s of seen) {
      const cols = new Float64Array(s.bytes.slice().buffer);
      assert.equal(cols[0], s.version * 10_000);
      assert.equal(cols[N - 1], s.version * 10_000 + N - 1);
      assert.equal(cols[N], -(s.version * 10_000));
      assert.equal(s.dropped, 0);
    }
    // Versions committed before a crash of their only holder cannot be streamed: the stream
    // says which and ends, it never hands over zeros.
    for (let v = 7; v <= 8; v++) await producer.publish("p", v, "dataset", particles(v));
    await cluster.kill(0);
    await assert.rejects(
      async () => {
        for await (const _ of consumer.steps("p", "cols", { from: 7, waitMs: 10_000 })) {
          assert.fail("a version held only by a crashed runtime was streamed");
        }
      },
      (e: Error & { code?: string }) => {
        assert.ok(e.code === "gone" || e.code === "unavailable", `${e.code}: ${e.message}`);
        // Down now ("does not answer"), or lost once its lease has lapsed.
        assert.match(e.message, /[Nn]ode 'a'/);
        return true;
      },
    );
  } finally {
    await cluster.stop();
  }
});
