import assert from "node:assert/strict";
import { fieldArray } from "../src/client/typed.ts";
import {
  energies,
  type Harness,
  PARTICLES,
  particles,
  publishRanks,
  withFunctions,
} from "./_functions.ts";

const example = (name: string) => Deno.readTextFile(`functions/${name}.ts`);

async function withParticles(h: Harness): Promise<Float32Array[]> {
  await h.registry.createDataset({ name: "particles", description: PARTICLES });
  const { bytes, u } = particles(1000, 7);
  await publishRanks(h.runtime, 1, bytes, 4);
  return u;
}

const FIELD = `dataset field { var temp [256, 256]float64 }
fragment rows(r0, r1) { var t = temp[r0:r1, :] }`;

async function publishField(h: Harness): Promise<Float64Array> {
  const temp = Float64Array.from({ length: 256 * 256 }, (_, i) => Math.sin(i) * 100 + i / 7);
  for (let r0 = 0; r0 < 256; r0 += 64) {
    await h.runtime.publish({
      dataset: "field",
      version: 1,
      fragment: "rows",
      bindings: { r0, r1: r0 + 64 },
      bytes: new Uint8Array(temp.buffer.slice(r0 * 256 * 8, (r0 + 64) * 256 * 8)),
    });
  }
  return temp;
}

Deno.test("functions/histogram.ts counts energies per fragment and merges them", async () => {
  await withFunctions(async (h) => {
    const u = await withParticles(h);
    await h.functions.deploy("histogram", await example("histogram"));
    const r = await h.functions.invoke("histogram", {
      dataset: "particles",
      each: true,
      args: { bins: 16, max: 4 },
    });
    const counts = new Array(16).fill(0);
    let above = 0;
    for (const e of energies(u)) {
      const b = Math.floor(e * (16 / 4));
      if (b >= 16) above++;
      else counts[b]++;
    }
    assert.equal(r.calls, 4);
    assert.deepEqual(JSON.parse(r.json!), { bins: 16, max: 4, counts, above, total: 1000 });
  });
});

Deno.test("functions/stats.ts gives min, max, mean and std whatever the fragments", async () => {
  await withFunctions(async (h) => {
    const u = await withParticles(h);
    await h.functions.deploy("stats", await example("stats"));
    const e = energies(u);
    const mean = e.reduce((a, b) => a + b, 0) / e.length;
    const std = Math.sqrt(e.reduce((a, b) => a + (b - mean) ** 2, 0) / e.length);
    const each = JSON.parse(
      (await h.functions.invoke("stats", { dataset: "particles", each: true })).json!,
    );
    const one = JSON.parse(
      (await h.functions.invoke("stats", { dataset: "particles", params: { lo: 0, hi: 1000 } }))
        .json!,
    );
    for (const s of [each, one]) {
      assert.equal(s.count, 1000);
      assert.equal(s.min, Math.min(...e));
      assert.equal(s.max, Math.max(...e));
      assert.ok(Math.abs(s.mean - mean) < 1e-12, `${s.mean} vs ${mean}`);
      assert.ok(Math.abs(s.std - std) < 1e-12, `${s.std} vs ${std}`);
    }
  });
});

Deno.test("functions/select.ts returns the ids of particles above a threshold", async () => {
  await withFunctions(async (h) => {
    const u = await withParticles(h);
    await h.functions.deploy("select", await example("select"));
    const r = JSON.parse(
      (await h.functions.invoke("select", {
        dataset: "particles",
        each: true,
        args: { threshold: 2, limit: 10_000 },
      })).json!,
    );
    const expected = energies(u).flatMap((e, i) => e > 2 ? [i] : []);
    assert.ok(expected.length > 10, "the sample has particles above the threshold");
    assert.equal(r.count, expected.length);
    assert.deepEqual([...r.ids].sort((a, b) => a - b), expected);
    const capped = JSON.parse(
      (await h.functions.invoke("select", {
        dataset: "particles",
        each: true,
        args: { threshold: 2, limit: 3 },
      })).json!,
    );
    assert.deepEqual([capped.count, capped.ids.length], [expected.length, 3]);
  });
});

Deno.test("functions/downsample.ts averages 2 x 2 blocks into a derived dataset", async () => {
  await withFunctions(async (h) => {
    await h.functions.deploy("downsample", await example("downsample"));
    await h.registry.createDataset({ name: "field", description: FIELD });
    await h.pipelines.put("half", {
      source: "field",
      function: "downsample",
      output: "field_half",
    });
    const temp = await publishField(h);
    await h.pipelines.idle();
    const at = (i: number, j: number) => temp[i * 256 + j]!;
    const want = (i: number, j: number) =>
      (at(2 * i, 2 * j) + at(2 * i, 2 * j + 1) + at(2 * i + 1, 2 * j) + at(2 * i + 1, 2 * j + 1)) /
      4;
    // The pipeline published each block of rows into the derived dataset.
    const out = await h.runtime.attach({
      dataset: "field_half",
      version: 1,
      fragment: "dataset",
      bindings: {},
    });
    const half = fieldArray(out.layout, out.bytes, "temp");
    assert.equal(half.length, 128 * 128);
    for (let i = 0; i < 128; i++) {
      for (let j = 0; j < 128; j++) assert.equal(half[i * 128 + j], want(i, j));
    }
    // And invoke computes one block on demand, in the output fragment's layout.
    const r = await h.functions.invoke("downsample", {
      dataset: "field",
      params: { r0: 64, r1: 128 },
    });
    assert.deepEqual(r.layout!.slots[0]!.origin, [32, 0]);
    const block = new Float64Array(r.bytes!.buffer, r.bytes!.byteOffset, r.bytes!.byteLength / 8);
    assert.deepEqual([...block], [...half.subarray(32 * 128, 64 * 128)]);
  });
});

Deno.test("functions/to_float32.ts publishes a float32 copy at the same version, with lineage", async () => {
  await withFunctions(async (h) => {
    const v = await h.functions.deploy("to_float32", await example("to_float32"));
    await h.registry.createDataset({ name: "field", description: FIELD });
    await h.pipelines.put("f32", { source: "field", function: "to_float32", output: "field_f32" });
    const temp = Float64Array.from({ length: 256 * 256 }, (_, i) => i / 3);
    for (let r0 = 0; r0 < 256; r0 += 128) {
      await h.runtime.publish({
        dataset: "field",
        version: 5,
        fragment: "rows",
        bindings: { r0, r1: r0 + 128 },
        bytes: new Uint8Array(temp.buffer.slice(r0 * 256 * 8, (r0 + 128) * 256 * 8)),
      });
    }
    await h.pipelines.idle();
    const status = await h.pipelines.get("f32");
    assert.deepEqual(status.runs.map((r) => [r.version, r.state, r.calls]), [[5, "succeeded", 2]]);
    const out = await h.runtime.attach({
      dataset: "field_f32",
      version: 5,
      fragment: "dataset",
      bindings: {},
    });
    const f32 = fieldArray(out.layout, out.bytes, "temp");
    assert.ok(f32 instanceof Float32Array);
    assert.deepEqual([...f32], [...temp].map(Math.fround));
    const lineage = await h.pipelines.lineage("field_f32", 5);
    assert.deepEqual(
      { ...lineage, createdAt: 0 },
      {
        function: { name: "to_float32", version: 1, digest: v.digest },
        source: { dataset: "field", version: 5 },
        pipeline: "f32",
        createdAt: 0,
      },
    );
  });
});
