/**
 * The data plane between runtime processes under strain: connections that
 * never say hello do not keep peers out, and a runtime restarted on the same
 * data plane port is served again at once by peers whose pooled connections
 * to it died with the process.
 */
import assert from "node:assert/strict";
import { connect } from "../src/client/mod.ts";
import { freePort, type Proc, startNameserver, startRuntime } from "./_cluster.ts";

const PARTS = 6;
const ROWS = 64;

const GRID = `dataset grid {
  var t [${PARTS * ROWS}, 32]float64
}
fragment rows(r0, r1) { var t = t[r0:r1, :] }`;

function rows(r0: number, r1: number): Uint8Array {
  const a = new Float64Array((r1 - r0) * 32);
  for (let r = r0; r < r1; r++) for (let c = 0; c < 32; c++) a[(r - r0) * 32 + c] = r * 100 + c;
  return new Uint8Array(a.buffer);
}

/** Attaches every part of version 1 from `url` at once; the statuses, and the bytes checked. */
async function attachAll(url: string): Promise<number[]> {
  return await Promise.all(
    Array.from({ length: PARTS }, async (_, p) => {
      const [r0, r1] = [p * ROWS, (p + 1) * ROWS];
      const res = await fetch(
        `${url}/v1/datasets/grid/versions/1/fragments/rows?r0=${r0}&r1=${r1}`,
      );
      if (res.status !== 200) {
        console.error(`part ${p}: ${res.status} ${await res.text()}`);
        return res.status;
      }
      assert.deepEqual(new Uint8Array(await res.arrayBuffer()), rows(r0, r1));
      return res.status;
    }),
  );
}

async function nodeStates(url: string): Promise<Record<string, string>> {
  const r = await (await fetch(`${url}/v1/nodes`)).json() as {
    nodes: { id: string; state: string }[];
  };
  return Object.fromEntries(r.nodes.map((n) => [n.id, n.state]));
}

Deno.test("wire: idle connections do not keep peers out, and a restarted runtime is attached from at once", async (t) => {
  const ns = await startNameserver();
  const procs: Proc[] = [ns];
  const wirePort = freePort();
  const config = `wire:\n  port: ${wirePort}\n`;
  let a = await startRuntime("a", [ns], { config });
  try {
    const b = await startRuntime("b", [ns]);
    procs.push(b);
    const A = connect(a.url);
    await A.createDataset("grid", GRID, { durable: true });
    for (let p = 0; p < PARTS; p++) {
      await A.publish("grid", 1, "rows", rows(p * ROWS, (p + 1) * ROWS), {
        params: { r0: p * ROWS, r1: (p + 1) * ROWS },
      });
    }

    await t.step("300 connections that never say hello hold no slot a peer needs", async () => {
      const idle: Deno.TcpConn[] = [];
      try {
        for (let i = 0; i < 300; i++) {
          idle.push(await Deno.connect({ hostname: "127.0.0.1", port: wirePort }));
        }
        // b has no connection to a yet: each of its attaches needs a new one.
        assert.deepEqual(await attachAll(b.url), Array(PARTS).fill(200));
      } finally {
        for (const c of idle) c.close();
      }
    });

    for (let round = 1; round <= 2; round++) {
      await t.step(
        `round ${round}: a restarted on the same port, b's next attaches all succeed`,
        async () => {
          assert.deepEqual(await attachAll(b.url), Array(PARTS).fill(200));
          await a.stop();
          a = await startRuntime("a", [ns], { dataDir: a.dataDir, port: a.port, config });
          while ((await nodeStates(b.url)).a !== "up") await new Promise((r) => setTimeout(r, 50));
          // b's pooled connections to a died with it: each attach that meets one asks again.
          assert.deepEqual(await attachAll(b.url), Array(PARTS).fill(200));
        },
      );
    }
  } finally {
    await a.stop();
    for (const p of procs.reverse()) await p.stop();
  }
});
