/** `strata nodes` against every process of a cluster: the name server and a runtime. */
import assert from "node:assert/strict";
import { runDeno } from "./_server.ts";
import { startNameserver, startRuntime } from "./_cluster.ts";

const STRATA = [
  "run",
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-env=STRATA_URL,LOG_TOKENS,LOG_STREAM",
  "src/cli/main.ts",
];

Deno.test("strata nodes lists a cluster's nodes at the name server and at a runtime", async () => {
  const ns = await startNameserver();
  const a = await startRuntime("a", [ns]);
  try {
    for (const url of [ns.url, a.url]) {
      let out = { code: 1, stdout: "", stderr: "" };
      // The runtime registers its lease once it listens.
      for (let i = 0; i < 50; i++) {
        out = await runDeno([...STRATA, "nodes", "--url", url]);
        if (out.stdout.startsWith("a\t")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stderr, "");
      const [head, ...tiers] = out.stdout.trimEnd().split("\n");
      assert.match(head!, /^a\t(\d+ fragments?\t)?\d+ of \d+ bytes/);
      assert.deepEqual(tiers.map((t) => t.trim().split("\t")[0]), ["memory", "file", "backing"]);
    }
  } finally {
    await a.stop();
    await ns.stop();
    await Deno.remove(a.dataDir, { recursive: true });
    await Deno.remove(ns.dataDir, { recursive: true });
  }
});
