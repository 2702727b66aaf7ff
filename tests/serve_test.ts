import assert from "node:assert/strict";

/** Starts `strata serve` as its own process, on a free loopback port, with the task's permissions. */
async function startServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  await Deno.mkdir("tmp", { recursive: true });
  const config = await Deno.makeTempFile({ dir: "tmp", suffix: ".yaml" });
  await Deno.writeTextFile(config, `listen:\n  hostname: 127.0.0.1\n  port: ${port}\n`);
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read=config,tmp",
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      "src/cli/main.ts",
      "serve",
      "--config",
      config,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Server exited before listening: ${seen}`);
    seen += value;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGTERM");
      const status = await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      await Deno.remove(config);
      assert.equal(status.success, true, "server should exit cleanly on SIGTERM");
    },
  };
}

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
  }
});
