import assert from "node:assert/strict";
import { startServer } from "./_server.ts";

const put = (url: string, version: number, value: number) =>
  fetch(`${url}/v1/datasets/tiny/versions/${version}/fragments/dataset`, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: new Uint8Array(new Float64Array(4).fill(value).buffer),
  }).then((r) => r.json());

const get = (url: string, version: number | "latest") =>
  fetch(`${url}/v1/datasets/tiny/versions/${version}/fragments/dataset`);

Deno.test("GET of a small committed fragment answers the same bytes and headers every time, and 410 once retired", async () => {
  const server = await startServer();
  try {
    const created = await fetch(`${server.url}/v1/datasets`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "tiny", description: "dataset tiny { var x [4]float64 }" }),
    });
    assert.equal(created.status, 201);
    await created.body?.cancel();
    assert.equal((await put(server.url, 1, 1.5)).committed, true);
    for (let i = 0; i < 3; i++) {
      const res = await get(server.url, i === 2 ? "latest" : 1);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/octet-stream");
      assert.equal(res.headers.get("content-length"), "32");
      assert.equal(res.headers.get("strata-version"), "1");
      assert.equal(JSON.parse(res.headers.get("strata-layout")!).byteLength, 32);
      assert.deepEqual([...new Float64Array(await res.arrayBuffer())], [1.5, 1.5, 1.5, 1.5]);
    }
    await put(server.url, 2, 2);
    await put(server.url, 3, 3);
    const gone = await get(server.url, 1);
    assert.equal(gone.status, 410);
    assert.equal((await gone.json()).error.code, "gone");
    const latest = await get(server.url, "latest");
    assert.equal(latest.headers.get("strata-version"), "3");
    assert.deepEqual([...new Float64Array(await latest.arrayBuffer())], [3, 3, 3, 3]);
  } finally {
    await server.stop();
  }
});
