import assert from "node:assert/strict";
import { startServer } from "./_server.ts";

/** DRepl's array sized by a variable: each rank publishes the size with its part. */
const DREPL = `dataset drepl {
  var sz int64
  var a [sz]float32
}
fragment part(lo, hi) { var sz = sz; var a = a[lo:hi] }
fragment head(n) read-only { var a = a[0:n] }`;

/** The bytes of `part` (or, with lo = 0 and hi = sz, the whole dataset): sz, then a[lo:hi] = lo..hi-1. */
function bytesOf(sz: number, lo: number, hi: number): Uint8Array {
  const bytes = new Uint8Array(8 + 4 * (hi - lo));
  const view = new DataView(bytes.buffer);
  view.setBigInt64(0, BigInt(sz), true);
  for (let i = lo; i < hi; i++) view.setFloat32(8 + 4 * (i - lo), i, true);
  return bytes;
}

function floats(bytes: ArrayBuffer): number[] {
  return [...new Float32Array(bytes)];
}

Deno.test("strata serve takes a DRepl array's size from each version's published bytes", async () => {
  const server = await startServer();
  const url = (path: string) => `${server.url}/v1/datasets${path}`;
  const put = (path: string, body: Uint8Array) =>
    fetch(url(path), {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: body as Uint8Array<ArrayBuffer>,
    });
  const used = async () => {
    const { nodes } = await (await fetch(`${server.url}/v1/nodes`)).json();
    return nodes[0].used as number;
  };
  try {
    const created = await fetch(url(""), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "drepl", description: DREPL, durable: true }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    await created.body?.cancel();
    const described = await (await fetch(url("/drepl"))).json();
    assert.deepEqual([described.sizes, described.sizesPerVersion, described.byteLength], [
      {},
      ["sz"],
      null,
    ]);

    // Version 1: the whole dataset with sz = 6, in one publish.
    const one = await put("/drepl/versions/1/fragments/dataset", bytesOf(6, 0, 6));
    assert.equal(one.status, 201);
    const record = await one.json();
    assert.deepEqual([record.committed, record.bindings, record.byteLength], [true, { sz: 6 }, 32]);
    const head = await fetch(url("/drepl/versions/1/fragments/head?n=4"));
    assert.equal(head.status, 200);
    assert.equal(JSON.parse(head.headers.get("strata-layout")!).byteLength, 16);
    assert.deepEqual(floats(await head.arrayBuffer()), [0, 1, 2, 3]);

    // Bytes whose size variable disagrees with their length: nothing is stored.
    const before = await used();
    const short = await put("/drepl/versions/2/fragments/dataset", bytesOf(6, 0, 5));
    assert.equal(short.status, 400);
    assert.deepEqual((await short.json()).error, {
      code: "invalid_layout",
      message: "Cannot publish the dataset: expected 32 bytes (sz = 6), received 28",
    });
    assert.equal(await used(), before);

    // Version 2 holds 4 elements, published by two ranks; a rank whose size disagrees is refused.
    const first = await put("/drepl/versions/2/fragments/part?lo=0&hi=2", bytesOf(4, 0, 2));
    assert.equal(first.status, 201);
    assert.deepEqual((await first.json()).committed, false);
    const stored = await used();
    const wrong = await put("/drepl/versions/2/fragments/part?lo=2&hi=4", bytesOf(5, 2, 4));
    assert.equal(wrong.status, 400);
    assert.deepEqual((await wrong.json()).error, {
      code: "invalid_layout",
      message: "Size variable 'sz' is 4 in version 2 of 'drepl', but the published bytes hold 5",
    });
    const whole = await put("/drepl/versions/2/fragments/dataset", bytesOf(6, 0, 6));
    assert.equal(whole.status, 400);
    assert.equal((await whole.json()).error.code, "size_mismatch");
    assert.equal(await used(), stored);
    const versions = await (await fetch(url("/drepl/versions"))).json();
    assert.deepEqual(
      versions.versions.map((
        v: Record<string, unknown>,
      ) => [v.version, v.state, v.fragments, v.sizes]),
      [[1, "committed", 1, { sz: 6 }], [2, "open", 1, { sz: 4 }]],
    );
    const second = await put("/drepl/versions/2/fragments/part?lo=2&hi=4", bytesOf(4, 2, 4));
    assert.equal(second.status, 201);
    assert.equal((await second.json()).committed, true);

    // Each version attaches with its own size, before and after a restart.
    for (let pass = 0; pass < 2; pass++) {
      const v1 = await fetch(url("/drepl/versions/1/fragments/dataset"));
      assert.equal(v1.status, 200);
      assert.deepEqual(new Uint8Array(await v1.arrayBuffer()), bytesOf(6, 0, 6));
      const v2 = await fetch(url("/drepl/versions/latest/fragments/dataset"));
      assert.equal(v2.headers.get("strata-version"), "2");
      assert.deepEqual(new Uint8Array(await v2.arrayBuffer()), bytesOf(4, 0, 4));
      const outside = await fetch(url("/drepl/versions/2/fragments/head?n=6"));
      assert.equal(outside.status, 400);
      assert.equal((await outside.json()).error.code, "invalid_layout");
      if (pass === 0) {
        await server.stop();
        Object.assign(server, await startServer({ dataDir: server.dataDir }));
      }
    }
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});
