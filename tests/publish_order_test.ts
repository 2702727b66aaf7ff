import assert from "node:assert/strict";
import { RemoteNameService } from "../src/cluster/name_client.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { openMemoryAndFile } from "../src/tiers/memory_and_file.ts";
import { withDir } from "./_fixtures.ts";
import { startNameserver } from "./_cluster.ts";

Deno.test("a runtime publishing many versions at once over HTTP commits them in its order", async () => {
  const ns = await startNameserver();
  const names = new RemoteNameService({ urls: [ns.url], node: "producer" });
  try {
    await withDir(async (dir) => {
      await names.registerNode(
        { id: "producer", url: "http://127.0.0.1:1", wire: "127.0.0.1:1", tiers: [] },
        60_000,
      );
      await names.createDataset({
        name: "steps",
        description: "dataset s { var x [512]float64 }",
        retention: 1024,
      });
      const sub = names.subscribe({
        dataset: "steps",
        fragment: "dataset",
        bindings: {},
        limit: 1024,
      });
      const runtime = new Runtime({
        node: "producer",
        names,
        tiers: await openMemoryAndFile({
          node: "producer",
          dataDir: dir,
          memory: 1 << 26,
          file: 1 << 20,
        }),
      });
      try {
        // Each publish of a window of 16 goes on its own connection, and
        // their requests may reach the name server in any order.
        const steps = 320;
        const bytes = new Uint8Array(4096);
        for (let v = 1; v <= steps; v += 16) {
          await Promise.all(
            [...Array(16).keys()].map((i) =>
              runtime.publish({
                dataset: "steps",
                version: v + i,
                fragment: "dataset",
                bindings: {},
                bytes,
              })
            ),
          );
        }
        const seen: number[] = [];
        while (seen.length < steps) {
          const notice = await sub.next(10_000);
          assert.ok(notice !== undefined, `no notice after version ${seen.at(-1)}`);
          assert.equal(notice.dropped, 0);
          seen.push(notice.version);
        }
        assert.deepEqual(seen, [...Array(steps).keys()].map((i) => i + 1));
      } finally {
        sub.close();
        await runtime.close();
      }
    });
  } finally {
    names.close();
    await ns.stop();
  }
});
