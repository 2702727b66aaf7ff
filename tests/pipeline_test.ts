import assert from "node:assert/strict";
import { ConflictError, InvalidRequestError, NotFoundError } from "../src/errors.ts";
import { PipelineService } from "../src/functions/pipelines.ts";
import {
  energies,
  type Harness,
  PARTICLES,
  particles,
  publishRanks,
  withFunctions,
} from "./_functions.ts";

const histogram = () => Deno.readTextFile("functions/histogram.ts");

/** A function on the particles' momenta, whose run body is given. */
function momenta(body: string, prelude = ""): string {
  return `import type { FunctionContext } from "strata/function";
export const input = \`dataset { type P struct { ux float32 }; var n int64; var p [n]P }
fragment m(lo, hi) columnar { var u { ux } = p[lo:hi] }\`;
export const output = "value";
export const sample = { n: 8, lo: 0, hi: 8 };
${prelude}
export async function run(input: { u: Float32Array }, ctx: FunctionContext): Promise<number> {
  ${body}
}
export function merge(a: number, b: number): number { return a + b; }
`;
}

async function setUp(h: Harness): Promise<void> {
  await h.registry.createDataset({ name: "particles", description: PARTICLES, retention: 8 });
}

Deno.test("A pipeline runs on every commit, per fragment, and merges the results", async () => {
  await withFunctions(async (h) => {
    await setUp(h);
    await h.functions.deploy("histogram", await histogram(), { aliases: ["prod"] });
    await h.pipelines.put("energy", {
      source: "particles",
      function: "histogram",
      use: "prod",
      args: { bins: 8, max: 4 },
    });
    const data = [particles(1000, 1), particles(1000, 2)];
    await publishRanks(h.runtime, 1, data[0]!.bytes, 4);
    await publishRanks(h.runtime, 2, data[1]!.bytes, 2);
    await h.pipelines.idle();
    for (const [i, v] of [1, 2].entries()) {
      const counts = new Array(8).fill(0);
      let above = 0;
      for (const e of energies(data[i]!.u)) {
        const b = Math.floor(e * 2);
        if (b >= 8) above++;
        else counts[b]++;
      }
      const r = await h.pipelines.result("energy", v);
      assert.deepEqual(r.value, { bins: 8, max: 4, counts, above, total: 1000 });
      assert.deepEqual(r.lineage.source, { dataset: "particles", version: v });
      assert.equal(r.lineage.function.name, "histogram");
    }
    assert.equal((await h.pipelines.result("energy", "latest")).version, 2);
    const status = await h.pipelines.get("energy");
    assert.deepEqual(status.runs.map((r) => [r.version, r.state, r.attempts, r.calls]), [
      [2, "succeeded", 1, 2],
      [1, "succeeded", 1, 4],
    ]);
    await assert.rejects(
      h.pipelines.result("energy", 3),
      /Pipeline 'energy' has no result for version 3/,
    );
  });
});

Deno.test("A failing function marks its run failed after its retries, and never blocks the producer", async () => {
  await withFunctions(async (h) => {
    await setUp(h);
    await h.functions.deploy(
      "picky",
      momenta(
        `if (ctx.version === 2) throw new RangeError("Version 2 is cursed");\n  return input.u.length;`,
      ),
    );
    await h.pipelines.put("picky", {
      source: "particles",
      function: "picky",
      retries: 2,
      retryDelayMs: 1,
    });
    for (const v of [1, 2, 3]) {
      // Each publish completes the version and commits it: the commit returns
      // whatever the pipeline's function does.
      await publishRanks(h.runtime, v, particles(1000).bytes, 1);
    }
    await h.pipelines.idle();
    const runs = (await h.pipelines.get("picky")).runs;
    assert.deepEqual(runs.map((r) => [r.version, r.state, r.attempts]), [
      [3, "succeeded", 1],
      [2, "failed", 3],
      [1, "succeeded", 1],
    ]);
    assert.equal(
      runs[1]!.error,
      "Function 'picky' version 1 failed: RangeError: Version 2 is cursed",
    );
    assert.equal((await h.pipelines.result("picky", 3)).value, 1000);
    assert.equal((await h.registry.describeDataset("particles")).latest, 3);
  });
});

Deno.test("A pipeline retries a run that failed and records the attempts", async () => {
  await withFunctions(async (h) => {
    await setUp(h);
    // The Worker keeps its module between calls: the first call fails, the next succeed.
    await h.functions.deploy(
      "flaky",
      momenta(
        `if (!ctx.dryRun && ++calls === 1) throw new Error("Not yet");\n  return input.u.length;`,
        "let calls = 0;",
      ),
    );
    await h.pipelines.put("flaky", { source: "particles", function: "flaky", retryDelayMs: 1 });
    await publishRanks(h.runtime, 1, particles(1000).bytes, 1);
    await h.pipelines.idle();
    const [run] = (await h.pipelines.get("flaky")).runs;
    assert.deepEqual([run!.state, run!.attempts, run!.error], [
      "succeeded",
      2,
      undefined,
    ]);
  });
});

Deno.test("A pipeline keeps up with a running producer without delaying its commits", async () => {
  await withFunctions(async (h) => {
    await setUp(h);
    // Each run takes at least 500 ms; the producer commits five versions meanwhile.
    await h.functions.deploy(
      "slow",
      momenta(
        `if (!ctx.dryRun) await new Promise((r) => setTimeout(r, 500));\n  return input.u.length;`,
      ),
    );
    await h.pipelines.put("slow", { source: "particles", function: "slow", queue: 8 });
    const versions = [1, 2, 3, 4, 5];
    for (const v of versions) await publishRanks(h.runtime, v, particles(1000, v).bytes, 2);
    // Every commit returned while the first run is still under way.
    const during = await h.pipelines.get("slow");
    assert.equal(during.running, 1);
    assert.deepEqual(during.queued, [2, 3, 4, 5]);
    assert.equal((await h.registry.describeDataset("particles")).latest, 5);
    await h.pipelines.idle();
    const runs = (await h.pipelines.get("slow")).runs;
    assert.deepEqual(
      runs.map((r) => [r.version, r.state]).reverse(),
      versions.map((v) => [v, "succeeded"]),
    );
    for (const v of versions) assert.equal((await h.pipelines.result("slow", v)).value, 1000);
  });
});

Deno.test("A pipeline whose queue is full skips the oldest waiting versions", async () => {
  await withFunctions(async (h) => {
    await setUp(h);
    await h.functions.deploy(
      "slow",
      momenta(`if (!ctx.dryRun) await new Promise((r) => setTimeout(r, 200));\n  return 1;`),
    );
    await h.pipelines.put("slow", { source: "particles", function: "slow", queue: 1 });
    for (const v of [1, 2, 3, 4]) await publishRanks(h.runtime, v, particles(1000).bytes, 1);
    await h.pipelines.idle();
    const runs = (await h.pipelines.get("slow")).runs;
    assert.deepEqual(runs.map((r) => [r.version, r.state]), [
      [4, "succeeded"],
      [3, "skipped"],
      [2, "skipped"],
      [1, "succeeded"],
    ]);
    assert.equal(runs[1]!.error, "1 newer versions were waiting: the queue is full");
  });
});

Deno.test("A pipeline records where it ran: pinned in situ, pinned in transit, or as the policy decides", async () => {
  await withFunctions(async (h) => {
    await setUp(h);
    await h.functions.deploy("histogram", await histogram());
    for (const placement of ["in-situ", "in-transit", "auto"]) {
      await h.pipelines.put(placement, { source: "particles", function: "histogram", placement });
    }
    await publishRanks(h.runtime, 1, particles(1000).bytes, 2);
    await h.pipelines.idle();
    const where = async (name: string) => (await h.pipelines.get(name)).runs[0]!.placement;
    assert.deepEqual(await where("in-situ"), {
      requested: "in-situ",
      decided: "in-situ",
      node: "n1",
      ranOn: "n1",
      reason: "pinned in situ",
    });
    assert.deepEqual(await where("in-transit"), {
      requested: "in-transit",
      decided: "in-transit",
      node: "n1",
      ranOn: "n1",
      reason: "pinned in transit; no other node is live, so it runs on the producer's node",
    });
    assert.deepEqual(await where("auto"), {
      requested: "auto",
      decided: "in-situ",
      node: "n1",
      ranOn: "n1",
      reason: "no other node is live",
    });
    // With another node live, in transit names it; a node that does not
    // answer hands the run back to the producer, and the record says why.
    await h.registry.registerNode({ id: "n2", url: "http://127.0.0.1:1", tiers: [] });
    await publishRanks(h.runtime, 2, particles(1000).bytes, 2);
    await h.pipelines.idle();
    const moved = await where("in-transit");
    assert.deepEqual({ ...moved, reason: undefined }, {
      requested: "in-transit",
      decided: "in-transit",
      node: "n2",
      ranOn: "n1",
      reason: undefined,
    });
    assert.match(
      moved!.reason,
      /^pinned in transit; Node 'n2' at http:\/\/127\.0\.0\.1:1 does not answer/,
    );
    assert.equal((await h.pipelines.get("in-transit")).runs[0]!.state, "succeeded");
    assert.equal((await where("auto"))!.decided, "in-situ");
  });
});

Deno.test("A run sent in transit asks its node to reshape the input there, sparing the producer", async () => {
  await withFunctions(async (h) => {
    await setUp(h);
    await h.functions.deploy("histogram", await histogram());
    // Node n2 takes runs over HTTP as a runtime does, and records them.
    const jobs: Record<string, unknown>[] = [];
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const job = await req.json();
        jobs.push(job);
        return Response.json({ ...(await h.functions.runJob(job)), node: "n2" });
      },
    );
    try {
      await h.registry.registerNode({
        id: "n2",
        url: `http://127.0.0.1:${server.addr.port}`,
        tiers: [],
      });
      await h.pipelines.put("transit", {
        source: "particles",
        function: "histogram",
        placement: "in-transit",
      });
      await h.pipelines.put("situ", {
        source: "particles",
        function: "histogram",
        placement: "in-situ",
      });
      await publishRanks(h.runtime, 1, particles(1000).bytes, 2);
      await h.pipelines.idle();
      assert.equal(jobs.length, 1);
      assert.equal(jobs[0]!.reshape, "destination");
      const transit = (await h.pipelines.get("transit")).runs[0]!;
      assert.deepEqual([transit.state, transit.placement?.ranOn], ["succeeded", "n2"]);
      // In situ runs where the copies are: nothing to say about a reshape.
      const situ = (await h.pipelines.get("situ")).runs[0]!;
      assert.deepEqual([situ.state, situ.placement?.ranOn], ["succeeded", "n1"]);
      assert.deepEqual(
        (await h.pipelines.result("transit", 1)).value,
        (await h.pipelines.result("situ", 1)).value,
      );
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("put() refuses pipelines that cannot run: unknown function, missing or extra output, loops", async () => {
  await withFunctions(async (h) => {
    await setUp(h);
    await h.functions.deploy("histogram", await histogram());
    await h.functions.deploy("to_float32", await Deno.readTextFile("functions/to_float32.ts"));
    await assert.rejects(
      h.pipelines.put("p", { source: "particles", function: "nope" }),
      (e) => e instanceof NotFoundError && e.message === "Unknown function 'nope'",
    );
    await assert.rejects(
      h.pipelines.put("p", { source: "particles", function: "histogram", output: "x" }),
      /function 'histogram' returns a value, so the pipeline has no output dataset/,
    );
    await assert.rejects(
      h.pipelines.put("p", { source: "field", function: "to_float32" }),
      /function 'to_float32' outputs a dataset, so the pipeline needs 'output', its name/,
    );
    await assert.rejects(
      h.pipelines.put("p", { source: "particles", function: "histogram", placement: "nearby" }),
      (e) =>
        e instanceof InvalidRequestError &&
        e.message ===
          `Invalid pipeline 'p': expected 'placement' to be one of in-situ, in-transit, auto, found "nearby"`,
    );
    await assert.rejects(
      h.pipelines.put("a", { source: "f1", function: "to_float32", output: "f2" }),
      (e) =>
        e instanceof NotFoundError &&
        e.message ===
          "Cannot create pipeline 'a': its source dataset 'f1' does not exist; create it first",
    );
    await h.registry.createDataset({
      name: "f1",
      description: "dataset f1 { var temp [256, 256]float64 }",
    });
    await h.pipelines.put("a", { source: "f1", function: "to_float32", output: "f2" });
    await assert.rejects(
      h.pipelines.put("b", { source: "f2", function: "to_float32", output: "f1" }),
      (e) =>
        e instanceof ConflictError &&
        e.message === "Pipeline 'b' would feed its own source 'f2' through other pipelines",
    );
    // The derived dataset of 'a' was created from the function's output description.
    assert.equal((await h.registry.describeDataset("f2")).byteLength, 256 * 256 * 4);
    assert.deepEqual(h.pipelines.list().map((p) => p.name), ["a"]);
    await h.pipelines.delete("a");
    await assert.rejects(h.pipelines.get("a"), /Unknown pipeline 'a'/);
  });
});

Deno.test("runJob() runs the exact version it is given, and reports what it published before failing", async () => {
  await withFunctions(async (h) => {
    await h.registry.createDataset({
      name: "field",
      description: `dataset field { var temp [256, 256]float64 }
fragment rows(r0, r1) { var t = temp[r0:r1, :] }`,
    });
    const v = await h.functions.deploy(
      "to_float32",
      await Deno.readTextFile("functions/to_float32.ts"),
    );
    const temp = Float64Array.from({ length: 256 * 256 }, (_, i) => i / 3);
    for (const r0 of [0, 128]) {
      await h.runtime.publish({
        dataset: "field",
        version: 1,
        fragment: "rows",
        bindings: { r0, r1: r0 + 128 },
        bytes: new Uint8Array(temp.buffer.slice(r0 * 2048, (r0 + 128) * 2048)),
      });
    }
    await h.registry.createDataset({
      name: "f32",
      description: `dataset { var temp [256, 256]float32 }
fragment rows(r0, r1) { var t = temp[r0:r1, :] }`,
    });
    const job = {
      function: { name: "to_float32", version: 1, digest: v.digest },
      source: { dataset: "field", version: 1 },
      units: [{ r0: 0, r1: 128 }, { r0: 128, r1: 256 }],
      output: { dataset: "f32", fragment: "rows", params: ["r0", "r1"] },
    };
    const wrong = await h.functions.runJob({
      ...job,
      function: { ...job.function, digest: "sha256:00" },
    });
    assert.deepEqual(wrong, {
      ok: false,
      error: {
        code: "conflict",
        message: `Function 'to_float32' version 1 is ${v.digest} here, not sha256:00`,
      },
      published: [],
      node: "n1",
    });
    // The second unit asks for rows past the field: the first is published, and said so.
    const partial = await h.functions.runJob({
      ...job,
      units: [{ r0: 0, r1: 128 }, { r0: 128, r1: 512 }],
    });
    assert.equal(partial.ok, false);
    assert.deepEqual(partial.published, ['{"r0":0,"r1":128}']);
    // A retry skips what is published and completes the version.
    const retry = await h.functions.runJob({ ...job, skip: partial.published });
    assert.deepEqual(retry, {
      ok: true,
      calls: 1,
      published: ['{"r0":128,"r1":256}'],
      node: "n1",
    });
    const out = await h.runtime.attach({
      dataset: "f32",
      version: 1,
      fragment: "dataset",
      bindings: {},
    });
    const f32 = new Float32Array(out.bytes.buffer, out.bytes.byteOffset, 256 * 256);
    assert.deepEqual([...f32], [...temp].map(Math.fround));
  });
});

Deno.test("A pipeline opened again runs the versions committed while it was closed", async () => {
  await withFunctions(async (h) => {
    await setUp(h);
    await h.functions.deploy("histogram", await histogram());
    await h.pipelines.put("energy", { source: "particles", function: "histogram" });
    await publishRanks(h.runtime, 1, particles(1000, 1).bytes, 2);
    await h.pipelines.idle();
    await h.pipelines.close();
    // Committed while no pipeline service listens.
    const later = [particles(1000, 2), particles(1000, 3)];
    await publishRanks(h.runtime, 2, later[0]!.bytes, 2);
    await publishRanks(h.runtime, 3, later[1]!.bytes, 2);
    const again = await PipelineService.open({
      store: h.store,
      functions: h.functions,
      catalog: h.registry,
      runtime: h.runtime,
    });
    try {
      await again.idle();
      const status = await again.get("energy");
      assert.deepEqual(status.runs.map((r) => [r.version, r.state]), [
        [3, "succeeded"],
        [2, "succeeded"],
        [1, "succeeded"],
      ]);
      const r = await again.result("energy", 3);
      assert.equal((r.value as { total: number }).total, 1000);
      // Opening once more finds nothing left to run.
      await again.close();
      const third = await PipelineService.open({
        store: h.store,
        functions: h.functions,
        catalog: h.registry,
        runtime: h.runtime,
      });
      assert.deepEqual((await third.get("energy")).queued, []);
      await third.close();
    } finally {
      await again.close();
    }
  });
});
