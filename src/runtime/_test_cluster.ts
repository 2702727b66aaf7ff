/**
 * Runtimes over one in-process registry, each with its own tiers and data
 * plane server, for tests of the data path.
 *
 * @module
 */

import { openRegistry, type Registry } from "../registry/registry.ts";
import { openMemoryAndFile } from "../tiers/memory_and_file.ts";
import { WireClient } from "../wire/client.ts";
import { WireServer } from "../wire/server.ts";
import { Runtime } from "./runtime.ts";

/** One node of a test cluster. */
export interface TestNode {
  readonly runtime: Runtime;
  readonly server: WireServer;
  readonly client: WireClient;
}

/** Runs `fn` with nodes `names` in a fresh directory under tmp/, then stops them. */
export async function withCluster(
  names: readonly string[],
  fn: (registry: Registry, nodes: Record<string, TestNode>) => Promise<void>,
): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  const nodes: Record<string, TestNode> = {};
  try {
    for (const name of names) {
      const client = new WireClient({ node: name });
      const runtime = new Runtime({
        node: name,
        names: registry,
        tiers: await openMemoryAndFile({
          node: name,
          dataDir: `${dir}/${name}`,
          memory: 1 << 24,
          file: 1 << 24,
        }),
        wire: client,
      });
      const server = WireServer.listen({ port: 0, node: name, source: runtime });
      await registry.registerNode({
        id: name,
        url: "http://127.0.0.1:1",
        tiers: [],
        wire: `127.0.0.1:${server.port}`,
      }, { leaseMs: 60_000 });
      nodes[name] = { runtime, server, client };
    }
    await fn(registry, nodes);
  } finally {
    for (const n of Object.values(nodes)) {
      n.client.close();
      await n.server.close();
    }
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
}
