/**
 * Release notices outlive a name server's restart: the notices of a node
 * that did not read them before the name server stopped are read back from
 * the name server's KV once it is back, and name the copies to free. Real
 * processes: a name server, stopped and started again on its data; the
 * node is a name client in this process, as a runtime's is.
 */
import assert from "node:assert/strict";
import { RemoteNameService } from "../src/cluster/name_client.ts";
import type { ReleasedCopy } from "../src/name_service/name_service.ts";
import { startNameserver } from "./_cluster.ts";
import { within } from "../src/http/_testing.ts";

const DESCRIPTION =
  "dataset d { var x [4]float64 }\nfragment half(h) { var x = x[2 * h:2 * h + 2] }";

Deno.test("a node reads the release notices left unread when its name server restarted", async () => {
  let ns = await startNameserver();
  try {
    // Node a's copies of versions 1 to 3 (both halves); keeping 1 version, each
    // commit retires the one before: 4 notices for a, which polls for none yet.
    const publisher = new RemoteNameService({ urls: [ns.url], node: "a" });
    await publisher.createDataset({ name: "d", description: DESCRIPTION, retention: 1 });
    for (let version = 1; version <= 3; version++) {
      for (const h of [0, 1]) {
        await publisher.publishFragment({
          dataset: "d",
          version,
          fragment: "half",
          bindings: { h },
          node: "a",
          tier: "memory",
          byteLength: 16,
          checksum: 0,
        });
      }
    }
    await publisher.close();
    // The notices are written in the name server's next atomic, or alone within 5 ms.
    await new Promise((r) => setTimeout(r, 300));
    await ns.stop();
    ns = await startNameserver({ dataDir: ns.dataDir, port: ns.port });
    const node = new RemoteNameService({ urls: [ns.url], node: "a" });
    try {
      const got = await within(
        new Promise<{ copies: readonly ReleasedCopy[]; replayed: boolean | undefined }>(
          (resolve) => node.onRelease((copies, replayed) => resolve({ copies, replayed })),
        ),
        15_000,
      );
      // Read from the start of the log: they may have been handled before, so marked replayed.
      assert.equal(got.replayed, true);
      assert.deepEqual(
        got.copies.map((c) => [c.dataset, c.version, c.fragment, c.bindings.h, c.node]),
        [["d", 1, "half", 0, "a"], ["d", 1, "half", 1, "a"], ["d", 2, "half", 0, "a"], [
          "d",
          2,
          "half",
          1,
          "a",
        ]],
      );
    } finally {
      await node.close();
    }
  } finally {
    await ns.stop();
  }
});
