import assert from "node:assert/strict";
import { connect, ServerError } from "../src/client/mod.ts";
import { startServer } from "./_server.ts";

const GRID = `dataset grid { var t [64, 64]float64 }
fragment rows(r0, r1) { var t = t[r0:r1, :] }
fragment cols columnar { var t [j, i] float32 = t[i, j] }`;

function field(): Float64Array {
  return Float64Array.from({ length: 64 * 64 }, (_, i) => i * 0.5);
}

Deno.test("racing commits over HTTP: exactly one wins", async () => {
  const server = await startServer();
  try {
    const strata = connect(server.url);
    await strata.createDataset("grid", GRID);
    await strata.publish("grid", 1, "rows", field().subarray(0, 64 * 8), {
      params: { r0: 0, r1: 8 },
    });
    const results = await Promise.allSettled([strata.commit("grid", 1), strata.commit("grid", 1)]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.ok(lost.reason instanceof ServerError);
    assert.equal(lost.reason.status, 409);
    assert.equal(lost.reason.message, "Version 1 of 'grid' is already committed");
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});

Deno.test("after a restart durable versions attach byte for byte and memory-only ones are 410", async () => {
  const first = await startServer();
  const url = first.url;
  const port = Number(new URL(url).port);
  try {
    const strata = connect(url);
    await strata.createDataset("kept", GRID, { durable: true });
    await strata.createDataset("fleeting", GRID);
    for (const name of ["kept", "fleeting"]) {
      for (let r = 0; r < 64; r += 16) {
        await strata.publish(name, 1, "rows", field().subarray(r * 64, (r + 16) * 64), {
          params: { r0: r, r1: r + 16 },
        });
      }
    }
    const before = await strata.attach("kept", "cols");
    await first.stop();

    const second = await startServer({ dataDir: first.dataDir, port });
    try {
      const after = await strata.attach("kept", "cols");
      assert.equal(after.version, 1);
      assert.deepEqual(after.bytes, before.bytes);
      const t = after.field("t") as Float32Array;
      assert.equal(t[1], 32); // t[j=0][i=1] = field[1 * 64 + 0] = 64 * 0.5
      await assert.rejects(strata.attach("fleeting", "cols", { version: 1 }), (e) => {
        assert.ok(e instanceof ServerError);
        assert.equal(e.status, 410);
        assert.equal(
          e.message,
          "Version 1 of 'fleeting' is lost: fragment 'rows (r0=0,r1=16)', 'rows (r0=16,r1=32)', 'rows (r0=32,r1=48)', 'rows (r0=48,r1=64)' was held only in memory and is gone",
        );
        return true;
      });
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(first.dataDir, { recursive: true });
  }
});

Deno.test("a publish that returned success survives kill -9 of the server", async () => {
  const first = await startServer();
  const port = Number(new URL(first.url).port);
  try {
    const strata = connect(first.url);
    await strata.createDataset("kept", GRID, { durable: true });
    await strata.publish("kept", 1, "rows", field().subarray(0, 64 * 32), {
      params: { r0: 0, r1: 32 },
    });
    await first.kill();
    const second = await startServer({ dataDir: first.dataDir, port });
    try {
      const versions = await strata.versions("kept");
      assert.deepEqual(versions.map((v) => [v.version, v.state, v.fragments]), [[1, "open", 1]]);
      const done = await strata.publish("kept", 1, "rows", field().subarray(64 * 32), {
        params: { r0: 32, r1: 64 },
      });
      assert.equal(done.committed, true);
      const all = await strata.attach("kept", "dataset");
      assert.deepEqual(new Float64Array(all.bytes.buffer), field());
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(first.dataDir, { recursive: true });
  }
});

Deno.test("errors over real HTTP: declared oversize body, wrong type, unknown dataset", async () => {
  const server = await startServer({ extra: "limits:\n  maxPayloadBytes: 1KiB\n" });
  try {
    const strata = connect(server.url);
    await strata.createDataset("grid", GRID);
    const big = await fetch(`${server.url}/v1/datasets/grid/versions/1/fragments/dataset`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array(64 * 64 * 8),
    });
    assert.equal(big.status, 413);
    assert.equal((await big.json()).error.code, "payload_too_large");
    const wrong = await fetch(`${server.url}/v1/datasets`, {
      method: "POST",
      headers: { "content-type": "text/csv" },
      body: "a,b",
    });
    assert.equal(wrong.status, 415);
    await wrong.body?.cancel();
    await assert.rejects(
      strata.attach("nope", "dataset"),
      (e) => e instanceof ServerError && e.status === 404,
    );
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});
