/**
 * Several nodes as separate processes on loopback: two name servers (datasets
 * hash over them) and three runtimes. Data published on one runtime is
 * attached on another over the data plane; a runtime killed mid-publish
 * never leaves a committed version with missing bytes, its memory copies are
 * named lost once its lease lapses, and its file copies come back when it
 * restarts.
 */
import assert from "node:assert/strict";
import { connect } from "../src/client/mod.ts";
import { ServerError } from "../src/client/errors.ts";
import { shardOf } from "../src/cluster/shard.ts";
import { type Proc, startNameserver, startRuntime } from "./_cluster.ts";
import { particlesDescription, XYZ } from "./_fixtures.ts";

const PARTICLES = particlesDescription({ count: 4096, fragments: [XYZ] });

const GRID = `dataset grid {
  var t [64, 48]float64
}
fragment rows(r0, r1) { var t = t[r0:r1, :] }
fragment block(r0, r1, c0, c1) { var b = t[r0:r1, c0:c1] }
fragment colsT(c0, c1) { var u [j, i] float32 = t[i, c0 + j] }`;

function particles(lo: number, hi: number): Uint8Array {
  const v = new DataView(new ArrayBuffer((hi - lo) * 32));
  for (let i = lo; i < hi; i++) {
    const at = (i - lo) * 32;
    v.setFloat64(at, i + 0.5, true);
    v.setFloat64(at + 8, -i, true);
    v.setFloat64(at + 16, i * 2, true);
    v.setBigInt64(at + 24, BigInt(1000 + i), true);
  }
  return new Uint8Array(v.buffer);
}

function rows(r0: number, r1: number): Uint8Array {
  const a = new Float64Array((r1 - r0) * 48);
  for (let r = r0; r < r1; r++) for (let c = 0; c < 48; c++) a[(r - r0) * 48 + c] = r * 1000 + c;
  return new Uint8Array(a.buffer);
}

async function attachRaw(url: string, path: string): Promise<Response> {
  return await fetch(`${url}/v1/datasets/${path}`);
}

async function nodes(url: string): Promise<Record<string, string>> {
  const r = await (await fetch(`${url}/v1/nodes`)).json() as {
    nodes: { id: string; state: string }[];
  };
  return Object.fromEntries(r.nodes.map((n) => [n.id, n.state]));
}

Deno.test("several nodes: publish on one runtime, attach on another over the data plane", async (t) => {
  const ns = [await startNameserver(), await startNameserver()];
  const procs: Proc[] = [...ns];
  try {
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((n) => startRuntime(n, ns)));
    procs.push(a!, b!, c!);
    const A = connect(a!.url);
    const B = connect(b!.url);
    const C = connect(c!.url);

    await t.step("datasets hash over both name servers, and every runtime sees all", async () => {
      const names = ["particles", "grid", "grid2", "grid3"];
      assert.ok(new Set(names.map((n) => shardOf(n, 2))).size === 2, "names cover both shards");
      await A.createDataset("particles", PARTICLES);
      for (const g of ["grid", "grid2", "grid3"]) await B.createDataset(g, GRID, { durable: true });
      const held = await Promise.all(ns.map((n) => connect(n.url).listDatasets()));
      assert.deepEqual(
        held.map((l) => l.map((d) => d.name)),
        [0, 1].map((s) => names.filter((n) => shardOf(n, 2) === s).sort()),
      );
      assert.deepEqual((await C.listDatasets()).map((d) => d.name), [...names].sort());
      // Pages merge the name servers' pages.
      const paged: string[] = [];
      let page = await C.listDatasets({ limit: 3 });
      for (;;) {
        paged.push(...page.map((d) => d.name as string));
        if (page.length < 3) break;
        page = await C.listDatasets({ after: page.at(-1)!.name as string, limit: 3 });
      }
      assert.deepEqual(paged, [...names].sort());
      assert.deepEqual((await C.listDatasets({ after: "grid2", limit: 1 })).map((d) => d.name), [
        "grid3",
      ]);
      assert.deepEqual(await nodes(b!.url), { a: "up", b: "up", c: "up" });
    });

    await t.step("array of structs published on a and c, attached as columns on b", async () => {
      await A.publish("particles", 1, "part", particles(0, 3000), { params: { lo: 0, hi: 3000 } });
      const last = await C.publish("particles", 1, "part", particles(3000, 4096), {
        params: { lo: 3000, hi: 4096 },
      });
      assert.equal(last.committed, true);
      for (const reshape of ["source", "destination"]) {
        const res = await attachRaw(
          b!.url,
          `particles/versions/latest/fragments/xyz?lo=2900&hi=3100&reshape=${reshape}`,
        );
        assert.equal(res.status, 200);
        const bytes = new Uint8Array(await res.arrayBuffer());
        const x = new Float32Array(bytes.buffer, 0, 200);
        const z = new Float32Array(bytes.buffer, 1600, 200);
        for (let k = 0; k < 200; k++) {
          assert.equal(x[k], 2900 + k + 0.5);
          assert.equal(z[k], (2900 + k) * 2);
        }
      }
      const bad = await attachRaw(
        b!.url,
        "particles/versions/1/fragments/xyz?lo=0&hi=4&reshape=up",
      );
      assert.equal(bad.status, 400);
      await bad.body?.cancel();
    });

    await t.step(
      "N -> M restart across nodes: 4 writers on a, b, c, 3 readers elsewhere",
      async () => {
        const writers = [A, B, C, A];
        await Promise.all(
          writers.map((w, k) =>
            w.publish("grid", 1, "rows", rows(16 * k, 16 * k + 16), {
              params: { r0: 16 * k, r1: 16 * k + 16 },
            })
          ),
        );
        const readers: [typeof A, Record<string, number>][] = [
          [C, { r0: 0, r1: 32, c0: 0, c1: 24 }],
          [B, { r0: 8, r1: 56, c0: 24, c1: 48 }],
          [A, { r0: 32, r1: 64, c0: 0, c1: 24 }],
        ];
        for (const [reader, params] of readers) {
          const got = await reader.attach("grid", "block", { params });
          const v = new Float64Array(got.bytes.buffer);
          const width = params.c1! - params.c0!;
          for (let r = params.r0!; r < params.r1!; r++) {
            for (let col = params.c0!; col < params.c1!; col++) {
              assert.equal(v[(r - params.r0!) * width + col - params.c0!], r * 1000 + col);
            }
          }
        }
        const tr = await B.attach("grid", "colsT", { params: { c0: 40, c1: 48 } });
        const u = new Float32Array(tr.bytes.buffer);
        for (let j = 0; j < 8; j++) {
          for (let i = 0; i < 64; i++) {
            assert.equal(u[j * 64 + i], i * 1000 + 40 + j);
          }
        }
      },
    );

    await t.step(
      "a name server answers fragment payloads with a pointer to its runtimes",
      async () => {
        const res = await attachRaw(
          ns[shardOf("grid", 2)]!.url,
          "grid/versions/1/fragments/rows?r0=0&r1=4",
        );
        assert.equal(res.status, 404);
        assert.match((await res.json()).error.message, /This is a name server/);
      },
    );
  } finally {
    for (const p of procs.reverse()) await p.stop();
  }
});

Deno.test("several nodes: kill -9 of a runtime mid-publish, lease lapse, restart", async (t) => {
  const ns = await startNameserver();
  const procs: Proc[] = [ns];
  let a = await startRuntime("a", [ns], { leaseMs: 1200 });
  try {
    const b = await startRuntime("b", [ns]);
    procs.push(b);
    const A = connect(a.url);
    const B = connect(b.url);
    await B.createDataset("fleeting", GRID);
    await B.createDataset("kept", GRID, { durable: true });
    for (const name of ["fleeting", "kept"]) {
      for (const k of [0, 1]) {
        await A.publish(name, 1, "rows", rows(16 * k, 16 * k + 16), {
          params: { r0: 16 * k, r1: 16 * k + 16 },
        });
      }
    }

    await t.step(
      "a killed mid-publish leaves the version open, with what it published",
      async () => {
        // The body of rows 32-48 is half sent when the runtime dies.
        const body = rows(32, 48);
        let send!: ReadableStreamDefaultController<Uint8Array>;
        const stream = new ReadableStream<Uint8Array>({ start: (c) => void (send = c) });
        const publishing = fetch(
          `${a.url}/v1/datasets/fleeting/versions/1/fragments/rows?r0=32&r1=48`,
          { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: stream },
        ).then((res) => res.status, (e: unknown) => e);
        send.enqueue(body.subarray(0, body.length / 2));
        await new Promise((r) => setTimeout(r, 50));
        await a.kill();
        assert.ok((await publishing) instanceof Error, "the publish never got an answer");
        const versions = await B.versions("fleeting");
        assert.deepEqual(versions.map((v) => [v.version, v.state, v.fragments]), [[1, "open", 2]]);
        const early = await attachRaw(b.url, "fleeting/versions/1/fragments/rows?r0=0&r1=64");
        assert.equal(early.status, 409);
        await early.body?.cancel();
      },
    );

    await t.step(
      "the rest published elsewhere commits; a's memory copies are named lost",
      async () => {
        for (const name of ["fleeting", "kept"]) {
          for (const k of [2, 3]) {
            await B.publish(name, 1, "rows", rows(16 * k, 16 * k + 16), {
              params: { r0: 16 * k, r1: 16 * k + 16 },
            });
          }
        }
        while ((await nodes(b.url)).a !== "down") await new Promise((r) => setTimeout(r, 100));
        await assert.rejects(
          B.attach("fleeting", "block", { params: { r0: 0, r1: 64, c0: 0, c1: 8 } }),
          (e) => {
            assert.ok(e instanceof ServerError);
            assert.equal(e.status, 410);
            assert.equal(
              e.message,
              "Version 1 of 'fleeting' is lost: fragment 'rows (r0=0,r1=16)', 'rows (r0=16,r1=32)' was held only in memory by node 'a', whose lease lapsed",
            );
            return true;
          },
        );
        // What b holds itself is still served.
        const tail = await B.attach("fleeting", "block", {
          params: { r0: 40, r1: 64, c0: 0, c1: 8 },
        });
        assert.equal(new Float64Array(tail.bytes.buffer)[0], 40_000);
        await assert.rejects(B.attach("kept", "rows", { params: { r0: 0, r1: 64 } }), (e) => {
          assert.ok(e instanceof ServerError);
          assert.equal(e.status, 503);
          assert.match(e.message, /is on the file tier of node 'a', which is down/);
          return true;
        });
      },
    );

    await t.step(
      "a restarted serves its file copies again; its memory copies stay lost",
      async () => {
        a = await startRuntime("a", [ns], { dataDir: a.dataDir, leaseMs: 1200 });
        const got = await B.attach("kept", "rows", { params: { r0: 0, r1: 64 } });
        assert.deepEqual(got.bytes, rows(0, 64));
        await assert.rejects(B.attach("fleeting", "rows", { params: { r0: 0, r1: 16 } }), (e) => {
          assert.ok(e instanceof ServerError);
          assert.equal(e.status, 410);
          assert.match(e.message, /fragment 'rows \(r0=0,r1=16\)' is not on node 'a'/);
          return true;
        });
        assert.equal((await nodes(b.url)).a, "up");
      },
    );
  } finally {
    await a.stop();
    for (const p of procs.reverse()) await p.stop();
  }
});
