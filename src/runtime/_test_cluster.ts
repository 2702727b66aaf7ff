/**
 * Runtimes over one in-process registry, each with its own tiers and data
 * plane server, for tests of the data path.
 *
 * @module
 */

import { openRegistry, type Registry } from "../registry/registry.ts";
import { openMemoryAndFile } from "../tiers/memory_and_file.ts";
import type { NamedPolicy } from "../tiers/policy.ts";
import { WireClient } from "../wire/client.ts";
import { WireServer } from "../wire/server.ts";
import type { NameService } from "../name_service/name_service.ts";
import { Runtime, type SendReplica } from "./runtime.ts";

/** One node of a test cluster. */
export interface TestNode {
  readonly runtime: Runtime;
  readonly server: WireServer;
  readonly client: WireClient;
  /** The directory of the node's file tier and data. */
  readonly dataDir: string;
}

/** Options of a test cluster. */
export interface TestClusterOptions {
  /** Placement policies by node (default fastest-fit). */
  readonly policies?: Readonly<Record<string, NamedPolicy>>;
  /**
   * Wraps how a replica request reaches its node (by default it calls the
   * target runtime's `replicate()` directly), to intercept it.
   */
  readonly send?: (direct: SendReplica) => SendReplica;
  /** Bytes of each node's memory tier (default 16 MiB); copies that do not fit go to the file tier. */
  readonly memoryBytes?: number;
}

/**
 * Runs `fn` with nodes `names` in a fresh directory under tmp/, then stops
 * them. Each node registers its data plane and its tiers' views, so the
 * placement policies of the others see it.
 */
export async function withCluster(
  names: readonly string[],
  fn: (registry: Registry, nodes: Record<string, TestNode>) => Promise<void>,
  options: TestClusterOptions = {},
): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  const nodes: Record<string, TestNode> = {};
  const direct: SendReplica = async (target, request) => {
    await nodes[target.id]!.runtime.replicate(request);
  };
  const sendReplica = options.send === undefined ? direct : options.send(direct);
  try {
    for (const name of names) {
      const client = new WireClient({ node: name });
      const policy = options.policies?.[name];
      const tiers = await openMemoryAndFile({
        node: name,
        dataDir: `${dir}/${name}`,
        memory: options.memoryBytes ?? 1 << 24,
        file: 1 << 24,
        ...(policy === undefined ? {} : { policy }),
      });
      const runtime = new Runtime({
        node: name,
        names: registry,
        tiers,
        wire: client,
        sendReplica,
      });
      const server = WireServer.listen({ port: 0, node: name, source: runtime });
      await registry.registerNode({
        id: name,
        url: "http://127.0.0.1:1",
        tiers: tiers.views(),
        wire: `127.0.0.1:${server.port}`,
      }, { leaseMs: 60_000 });
      nodes[name] = { runtime, server, client, dataDir: `${dir}/${name}` };
    }
    await fn(registry, nodes);
  } finally {
    for (const n of Object.values(nodes)) {
      n.client.close();
      await n.server.close().catch(() => {}); // a test may have closed it
    }
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The registry as a runtime's `NameService`, with some of its methods
 * replaced (each replacement gets the registry's own method to call on).
 */
export function interceptNames(
  registry: Registry,
  overrides: {
    readonly [K in keyof NameService]?: (
      original: NameService[K],
    ) => NameService[K];
  },
): NameService {
  return new Proxy(registry, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const bound = value.bind(target);
      const wrap = (overrides as Record<PropertyKey, ((f: unknown) => unknown) | undefined>)[prop];
      return wrap === undefined ? bound : wrap(bound);
    },
  }) as unknown as NameService;
}
