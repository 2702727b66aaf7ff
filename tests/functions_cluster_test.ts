/**
 * Functions and pipelines across processes: a name server keeps the
 * functions and pipelines; runtimes run them. A pipeline placed in transit
 * runs on another runtime than the producer's and publishes its output
 * there; an invocation sent to the name server runs where the data is; a
 * runtime that dies hands its runs back to the producer.
 */
import assert from "node:assert/strict";
import { connect } from "../src/client/mod.ts";
import { energies, PARTICLES, particles } from "./_functions.ts";
import { shardOf } from "../src/cluster/shard.ts";
import { freePort, type Proc, startNameserver, startRuntime } from "./_cluster.ts";

const FIELD = `dataset field { var temp [256, 256]float64 }
fragment rows(r0, r1) { var t = temp[r0:r1, :] }`;

interface Run {
  version: number;
  state: string;
  error?: string;
  placement?: { decided: string; node: string; ranOn: string; reason: string };
}

/** Waits until the pipeline's run of `version` has finished. */
async function finished(url: string, pipeline: string, version: number): Promise<Run> {
  const client = connect(url);
  for (let i = 0; i < 600; i++) {
    const runs = (await client.functions.pipeline(pipeline)).runs as unknown as Run[];
    const run = runs.find((r) => r.version === version);
    if (run !== undefined && run.state !== "running") return run;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`The run of version ${version} of pipeline '${pipeline}' did not finish`);
}

/** The histogram the example function computes, for `bins` bins up to `max`. */
function histogramOf(u: Float32Array[], bins: number, max: number) {
  const counts = new Array(bins).fill(0);
  let above = 0;
  for (const e of energies(u)) {
    const b = Math.floor((e / max) * bins);
    if (b >= bins) above++;
    else counts[b]++;
  }
  return { bins, max, counts, above, total: u[0]!.length };
}

async function publishRanks(url: string, version: number, bytes: Uint8Array, ranks: number) {
  const client = connect(url);
  const per = bytes.byteLength / 32 / ranks;
  for (let r = 0; r < ranks; r++) {
    await client.publish(
      "particles",
      version,
      "ranks",
      bytes.subarray(r * per * 32, (r + 1) * per * 32),
      { params: { lo: r * per, hi: (r + 1) * per } },
    );
  }
}

Deno.test("several nodes: functions kept by the name server run on the runtimes, in situ or in transit", async () => {
  const ns = await startNameserver();
  const procs: Proc[] = [ns];
  try {
    const a = await startRuntime("a", [ns]);
    const b = await startRuntime("b", [ns]);
    procs.push(a, b);
    const A = connect(a.url);
    const B = connect(b.url);
    const NS = connect(ns.url);
    // Deploys sent to a runtime reach the name server that keeps functions.
    const deployed = await A.functions.deploy(
      "histogram",
      await Deno.readTextFile("functions/histogram.ts"),
      { aliases: ["prod"] },
    );
    assert.equal(deployed.version, 1);
    assert.equal((await NS.functions.describe("histogram")).latest, 1);
    assert.deepEqual((await B.functions.describe("histogram")).aliases, { latest: 1, prod: 1 });

    await A.createDataset("particles", PARTICLES, { retention: 8 });
    const args = { bins: 8, max: 4 };
    await B.functions.putPipeline("transit", {
      source: "particles",
      function: "histogram",
      use: "prod",
      args,
      placement: "in-transit",
    });
    await A.functions.putPipeline("situ", {
      source: "particles",
      function: "histogram",
      args,
      placement: "in-situ",
    });
    const one = particles(1000, 3);
    await publishRanks(a.url, 1, one.bytes, 4);
    const expected = histogramOf(one.u, 8, 4);

    const transit = await finished(ns.url, "transit", 1);
    assert.equal(transit.state, "succeeded", transit.error);
    assert.deepEqual(
      [transit.placement?.decided, transit.placement?.node, transit.placement?.ranOn],
      ["in-transit", "b", "b"],
    );
    assert.deepEqual((await A.functions.result("transit", 1)).value, expected);
    const situ = await finished(ns.url, "situ", 1);
    assert.deepEqual([situ.state, situ.placement?.ranOn], ["succeeded", "a"]);
    assert.deepEqual((await NS.functions.result("situ", 1)).value, expected);

    // An invocation on the name server runs where the data is; on a runtime, there.
    const everywhere = [ns, a, b].map((p) =>
      connect(p.url).functions.invoke("histogram", "particles", { each: true, args })
    );
    for (const r of await Promise.all(everywhere)) {
      assert.deepEqual(r.value, expected);
      assert.equal(r.calls, 4);
    }

    // A dataset output is published by the node that computed it.
    await NS.functions.deploy("to_float32", await Deno.readTextFile("functions/to_float32.ts"));
    await A.createDataset("field", FIELD);
    await NS.functions.putPipeline("f32", {
      source: "field",
      function: "to_float32",
      output: "field_f32",
      placement: "in-transit",
    });
    const temp = Float64Array.from({ length: 256 * 256 }, (_, i) => i / 3);
    for (let r0 = 0; r0 < 256; r0 += 128) {
      await A.publish("field", 4, "rows", temp.subarray(r0 * 256, (r0 + 128) * 256), {
        params: { r0, r1: r0 + 128 },
      });
    }
    const f32 = await finished(ns.url, "f32", 4);
    assert.deepEqual([f32.state, f32.placement?.ranOn], ["succeeded", "b"], f32.error);
    const out = await A.attach("field_f32", "dataset", { version: 4 });
    assert.deepEqual([...out.field("temp")], [...temp].map(Math.fround));
    const lineage = await B.functions.lineage("field_f32", 4);
    assert.deepEqual(lineage.source, { dataset: "field", version: 4 });
    // b holds the two output blocks (a runtime reports its own tiers as they are now).
    const nodes = (await (await fetch(`${b.url}/v1/nodes`)).json()) as {
      nodes: { id: string; tiers: { count?: number }[] }[];
    };
    const own = nodes.nodes.find((n) => n.id === "b")!;
    assert.equal(own.tiers.reduce((s, t) => s + (t.count ?? 0), 0), 2);

    // b dies: the in-transit run of the next version goes back to the producer.
    await b.kill();
    procs.splice(procs.indexOf(b), 1);
    const two = particles(1000, 4);
    await publishRanks(a.url, 2, two.bytes, 2);
    const back = await finished(ns.url, "transit", 2);
    assert.equal(back.state, "succeeded", back.error);
    assert.equal(back.placement?.node, "b");
    assert.equal(back.placement?.ranOn, "a");
    assert.match(back.placement!.reason, /Node 'b' at .* does not answer/);
    assert.deepEqual((await A.functions.result("transit", 2)).value, histogramOf(two.u, 8, 4));
  } finally {
    for (const p of procs.reverse()) {
      try {
        await p.stop();
      } catch {
        // Already gone.
      }
    }
  }
});

Deno.test("sharded name servers: the first keeps functions and follows the others' commits", async () => {
  const ports = [freePort(), freePort()];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  // Source and output are kept by the second name server, functions by the first.
  assert.deepEqual([shardOf("field", 2), shardOf("field_f32", 2)], [1, 1]);
  const procs: Proc[] = [];
  try {
    for (const port of ports) procs.push(await startNameserver({ port, nameservers: urls }));
    const [ns0, ns1] = procs as [Proc, Proc];
    const a = await startRuntime("a", [ns0, ns1]);
    procs.push(a);
    const A = connect(a.url);
    const NS1 = connect(ns1.url);
    // Function routes sent to the second name server reach the first.
    await NS1.functions.deploy("to_float32", await Deno.readTextFile("functions/to_float32.ts"));
    assert.equal((await connect(ns0.url).functions.describe("to_float32")).latest, 1);
    await A.createDataset("field", FIELD);
    await NS1.functions.putPipeline("f32", {
      source: "field",
      function: "to_float32",
      output: "field_f32",
    });
    // The output dataset was created on its own name server.
    assert.equal((await NS1.describeDataset("field_f32")).name, "field_f32");
    const temp = Float64Array.from({ length: 256 * 256 }, (_, i) => i / 7);
    const publish = async (version: number) => {
      for (let r0 = 0; r0 < 256; r0 += 128) {
        await A.publish("field", version, "rows", temp.subarray(r0 * 256, (r0 + 128) * 256), {
          params: { r0, r1: r0 + 128 },
        });
      }
    };
    for (const version of [1, 2, 3]) {
      if (version === 3) {
        // Committed while the first name server is down: caught up when it is back.
        await ns0.stop();
        await publish(version);
        procs[0] = await startNameserver({
          port: ns0.port,
          dataDir: ns0.dataDir,
          nameservers: urls,
        });
      } else await publish(version);
      const run = await finished(ns0.url, "f32", version);
      assert.equal(run.state, "succeeded", run.error);
      const out = await A.attach("field_f32", "dataset", { version });
      assert.deepEqual([...out.field("temp")], [...temp].map(Math.fround));
      assert.deepEqual((await NS1.functions.lineage("field_f32", version)).source, {
        dataset: "field",
        version,
      });
    }
  } finally {
    for (const p of procs.reverse()) {
      try {
        await p.stop();
      } catch {
        // Already gone.
      }
    }
  }
});
