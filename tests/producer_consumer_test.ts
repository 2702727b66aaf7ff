import assert from "node:assert/strict";
import { runDeno, startServer } from "./_server.ts";

Deno.test("two programs share particles: the producer publishes structs, the consumer attaches columns", async () => {
  const server = await startServer();
  try {
    const consumer = runDeno([
      "run",
      "--allow-net=127.0.0.1",
      "examples/consumer.ts",
      "3",
      server.url,
    ]);
    const producer = await runDeno([
      "run",
      "--allow-net=127.0.0.1",
      "examples/producer.ts",
      "3",
      server.url,
    ]);
    assert.equal(producer.code, 0, producer.stderr);
    assert.match(
      producer.stdout,
      /step 3: published version 3 \(4 ranks, 4800000 bytes\), committed: true/,
    );
    const c = await consumer;
    assert.equal(c.code, 0, c.stderr);
    const lines = c.stdout.trim().split("\n");
    assert.equal(lines.length, 3);
    for (const [k, line] of lines.entries()) {
      assert.match(
        line,
        new RegExp(`^version ${k + 1}: 100000 particles as 1200000 bytes of columns`),
      );
    }
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});
