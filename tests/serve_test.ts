import assert from "node:assert/strict";
import { startServer } from "./_server.ts";

Deno.test("strata serve answers health and describe over real HTTP, then stops on SIGTERM", async () => {
  const server = await startServer();
  try {
    const health = await fetch(`${server.url}/v1/health`);
    assert.deepEqual(await health.json(), { status: "ok", version: "0.1.0" });
    const text = await Deno.readTextFile("examples/particles.ddl");
    const res = await fetch(`${server.url}/v1/describe?r0=0&r1=2&c0=0&c1=6`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: text,
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.layout.byteLength, 512);
    assert.equal(body.fragments.viz.byteLength, 96);
    assert.equal(body.fragments.block.byteLength, 96);
    const bad = await fetch(`${server.url}/v1/describe`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "dataset { var x [4]Point }",
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, "invalid_description");
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});
