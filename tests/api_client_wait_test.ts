/**
 * The client asks again when an attach waits longer than the server grants
 * one request.
 */
import assert from "node:assert/strict";
import { connect, ServerError } from "../src/client/mod.ts";
import { KEEP, TOKEN, withApiApp } from "./api_harness.ts";

Deno.test("attach() waits past the server's bound in several requests", async () => {
  await withApiApp(async ({ app }) => {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
    try {
      const url = `http://127.0.0.1:${server.addr.port}`;
      const strata = connect(url, { token: TOKEN, waitPerRequestMs: 50 });
      // One request may not wait longer than the server grants (50 ms here).
      await assert.rejects(
        connect(url).attach(KEEP, "dataset", { version: 2, waitMs: 200 }),
        (e) => e instanceof ServerError && e.status === 400,
      );
      const waiting = strata.attach(KEEP, "dataset", { version: 2, waitMs: 5000 });
      await new Promise((r) => setTimeout(r, 200));
      await strata.publish(KEEP, 2, "dataset", new Float64Array([5, 6, 7, 8]));
      const got = await waiting;
      assert.equal(got.version, 2);
      assert.deepEqual([...(got.field("x") as Float64Array)], [5, 6, 7, 8]);
      await assert.rejects(
        strata.attach(KEEP, "dataset", { version: 3, waitMs: 120 }),
        (e) => e instanceof ServerError && e.code === "timeout",
      );
    } finally {
      await server.shutdown();
    }
  });
});
