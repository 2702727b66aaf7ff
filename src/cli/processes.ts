/**
 * The long-running commands: `strata serve` (name server and runtime in one
 * process), `strata nameserver` (registry and control API, no data) and
 * `strata runtime` (tiers and data, reaching name servers over HTTP).
 *
 * @module
 */

import { createApp } from "../api/app.ts";
import { InvalidConfigError } from "../errors.ts";
import { LeaseKeeper } from "../cluster/lease.ts";
import { RemoteNameService } from "../cluster/name_client.ts";
import { NodeBook } from "../cluster/node_book.ts";
import { ShardedCatalog } from "../cluster/sharded_catalog.ts";
import { ReleaseLog } from "../cluster/release_log.ts";
import { openRegistry, type Registry } from "../registry/registry.ts";
import type { NameService, NodeTier } from "../name_service/name_service.ts";
import { Runtime } from "../runtime/runtime.ts";
import { loadPolicy } from "../tiers/load_policy.ts";
import { BUILTIN_POLICIES } from "../../placements/mod.ts";
import { TierSet } from "../tiers/tier_set.ts";
import { WireClient } from "../wire/client.ts";
import { WireServer } from "../wire/server.ts";
import type { Config } from "./config.ts";
import { openFunctions, openRunner, poolOptionsOf } from "./serve_functions.ts";
import { openServices } from "../services/builtin.ts";
import { LocalMetaKv } from "../services/meta_kv.ts";
import { RemoteMetaKv } from "../services/remote_meta_kv.ts";
import type { ServiceRouting } from "../services/host.ts";
import { log } from "../observe/mod.ts";
import { mallocNotice } from "./malloc_tunables.ts";

/** `strata serve`: the name server and one runtime in one process. */
export async function serveAll(config: Config): Promise<number> {
  await Deno.mkdir(config.dataDir, { recursive: true });
  const registry = await openRegistry({ path: config.kv ?? `${config.dataDir}/registry.kv` });
  const { releases, nodes } = await nameServerParts(registry, config.node);
  const node = await startRuntime(config, registry);
  const functions = await openFunctions({
    registry,
    runtime: node.runtime,
    dataDir: config.dataDir,
    pool: poolOptionsOf(config),
    ...(config.token === undefined ? {} : { token: config.token }),
  });
  // Service metadata commits of this runtime and of the others share atomics.
  const serviceKv = new LocalMetaKv(registry.kv);
  const services = await openServices(
    serviceKv,
    node.runtime.tiers,
    config.services,
    serviceRouting(config, node.runtime, () => registry.listNodes()),
  );
  const app = createApp({
    maxBodyBytes: config.limits.maxBodyBytes,
    ...(config.token === undefined ? {} : { token: config.token }),
    services: { host: services },
    serviceKv,
    data: {
      runtime: node.runtime,
      catalog: registry,
      maxPayloadBytes: config.limits.maxPayloadBytes,
      beforeDelete: (name, o) => functions.pipelines.sourceDeleting(name, o),
    },
    cluster: { registry, releases, nodes },
    functions: { ...functions, runs: true },
  });
  return await listen(config, app.fetch, async (url) => {
    const lease = keepLease(config, node, url, {
      register: (n) => nodes.register(n, config.leaseMs).then(() => {}),
      renew: (n) => nodes.renew(n.id, config.leaseMs, n.tiers).then(() => {}),
    });
    await lease.start();
    await reconcile(config, node);
    return `Strata listening on ${url} (node '${config.node}', data plane ${node.wireAddress})`;
  }, async () => {
    await services.close();
    await serviceKv.close();
    await functions.close();
    await node.close();
    await releases.drain();
    registry.close();
  }, () => releases.close());
}

/**
 * This name server's index in the shard list: the entry that is its own
 * listen URL. Undefined with no list, or a list of one.
 */
export function shardIndex(config: Config): number | undefined {
  if (config.nameservers.length < 2) return undefined;
  const own = `http://${config.listen.hostname}:${config.listen.port}`;
  const i = config.nameservers.findIndex((u) => u.replace(/\/+$/, "") === own);
  if (i < 0) {
    throw new InvalidConfigError(
      `This name server listens on ${own}, which is not in 'nameservers' (${
        config.nameservers.join(", ")
      }): list it with the same host and port`,
    );
  }
  return i;
}

/**
 * `strata nameserver`: the registry and the control API; no payload bytes.
 * With several name servers, the first keeps functions and pipelines (and
 * follows the commits of the other shards' datasets its pipelines read);
 * the others pass function routes on to it.
 */
export async function serveNameserver(config: Config): Promise<number> {
  let self: number | undefined;
  try {
    self = shardIndex(config);
  } catch (e) {
    console.error(`strata: ${(e as Error).message}`);
    return 2;
  }
  await Deno.mkdir(config.dataDir, { recursive: true });
  const registry = await openRegistry({ path: config.kv ?? `${config.dataDir}/registry.kv` });
  const { releases, nodes } = await nameServerParts(registry, undefined);
  const token = config.token === undefined ? {} : { token: config.token };
  // Service metadata of the runtimes, kept by the first name server.
  const serviceKv = self === undefined || self === 0 ? new LocalMetaKv(registry.kv) : undefined;
  const remote = self === undefined ? undefined : new RemoteNameService({
    urls: config.nameservers,
    node: `nameserver-${self}`,
    ...token,
  });
  const catalog = self === undefined || remote === undefined
    ? undefined
    : new ShardedCatalog({ registry, self, count: config.nameservers.length, remote });
  // Functions are kept here (by the first name server); their calls run on
  // the runtimes, which hold the data.
  const functions = self === undefined || self === 0
    ? await openFunctions({
      registry,
      ...(catalog === undefined ? {} : { catalog }),
      dataDir: config.dataDir,
      pool: poolOptionsOf(config),
      ...token,
    })
    : undefined;
  const app = createApp({
    maxBodyBytes: config.limits.maxBodyBytes,
    ...token,
    data: {
      catalog: registry,
      maxPayloadBytes: config.limits.maxPayloadBytes,
      ...(functions === undefined
        ? {}
        : { beforeDelete: (name, o) => functions.pipelines.sourceDeleting(name, o) }),
    },
    cluster: { registry, releases, nodes },
    functions: functions ?? { keeper: config.nameservers[0]! },
    ...(serviceKv === undefined ? {} : { serviceKv }),
  });
  return await listen(
    config,
    app.fetch,
    (url) => Promise.resolve(`Strata name server listening on ${url}`),
    async () => {
      await serviceKv?.close();
      await functions?.close();
      catalog?.close();
      remote?.close();
      await releases.drain();
      registry.close();
    },
    () => releases.close(),
  );
}

/** `strata runtime`: tiers and data; the registry is on the name servers. */
export async function serveRuntime(config: Config): Promise<number> {
  if (config.nameservers.length === 0) {
    console.error("strata: A runtime needs its name servers: --nameserver URL or 'nameservers'");
    return 2;
  }
  await Deno.mkdir(config.dataDir, { recursive: true });
  const names = new RemoteNameService({
    urls: config.nameservers,
    node: config.node,
    ...(config.token === undefined ? {} : { token: config.token }),
  });
  const node = await startRuntime(config, names);
  // Functions and pipelines are kept by the first name server; they run here.
  const keeper = config.nameservers[0]!;
  const functions = openRunner({
    runtime: node.runtime,
    catalog: names,
    keeper,
    pool: poolOptionsOf(config),
    ...(config.token === undefined ? {} : { token: config.token }),
  });
  // Service metadata lives at the first name server, blobs in this node's tiers.
  const services = await openServices(
    new RemoteMetaKv({
      url: keeper,
      ...(config.token === undefined ? {} : { token: config.token }),
    }),
    node.runtime.tiers,
    config.services,
    serviceRouting(config, node.runtime, () => names.listNodes()),
  );
  const app = createApp({
    maxBodyBytes: config.limits.maxBodyBytes,
    ...(config.token === undefined ? {} : { token: config.token }),
    services: { host: services },
    data: { runtime: node.runtime, catalog: names, maxPayloadBytes: config.limits.maxPayloadBytes },
    nodes: () => names.nodes(),
    functions: { functions, keeper, runs: true },
  });
  return await listen(config, app.fetch, async (url) => {
    const lease = keepLease(config, node, url, {
      register: (n) => names.registerNode(n, config.leaseMs),
      renew: (n) => names.renewNode(n, config.leaseMs),
    });
    await lease.start();
    await reconcile(config, node);
    return `Strata runtime '${config.node}' listening on ${url} (data plane ${node.wireAddress}, name servers ${
      config.nameservers.join(", ")
    })`;
  }, async () => {
    await services.close();
    await functions.close();
    await node.close();
  }, () => names.close());
}

/** How a runtime's services reach the other runtimes: their HTTP APIs and data planes. */
function serviceRouting(
  config: Config,
  runtime: Runtime,
  nodes: ServiceRouting["nodes"],
): ServiceRouting {
  return {
    nodes,
    fetchBlob: (node, blob) => runtime.fetchBlob(node, blob),
    ...(config.token === undefined ? {} : { token: config.token }),
  };
}

interface NodeParts {
  readonly runtime: Runtime;
  readonly wireAddress: string;
  readonly tiers: TierSet;
  close(): Promise<void>;
  lease?: LeaseKeeper;
}

async function nameServerParts(registry: Registry, ownNode: string | undefined) {
  // Kept in the registry's KV, so the notices not yet read outlive a restart.
  const releases = await ReleaseLog.open(registry.kv, { committer: registry.committer });
  // The in-process runtime hears the registry directly; the log is for the others.
  registry.onRelease((copies) => releases.push(copies, ownNode));
  return { releases, nodes: new NodeBook(registry) };
}

async function startRuntime(config: Config, names: NameService): Promise<NodeParts> {
  await Deno.mkdir(config.dataDir, { recursive: true });
  const tiers = await TierSet.open(config.tiers, {
    dataDir: config.dataDir,
    node: config.node,
    policy: await loadPolicy(config.placement, { builtins: BUILTIN_POLICIES }),
  });
  const wire = new WireClient({
    node: config.node,
    ...(config.token === undefined ? {} : { token: config.token }),
  });
  const runtime = new Runtime({
    node: config.node,
    names,
    tiers,
    wire,
    reshape: config.reshape,
    ...(config.token === undefined ? {} : { token: config.token }),
  });
  let server: WireServer;
  try {
    server = WireServer.listen({
      hostname: config.wire.hostname,
      port: config.wire.port,
      node: config.node,
      source: runtime,
      ...(config.token === undefined ? {} : { token: config.token }),
    });
  } catch (e) {
    wire.close();
    if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    throw new InvalidConfigError(
      `Cannot listen for the data plane on ${config.wire.hostname}:${config.wire.port}: the port is in use; start with --wire-port PORT (0: any free port) or set 'wire.port' in the config`,
    );
  }
  const parts: NodeParts = {
    runtime,
    wireAddress: `${server.hostname}:${server.port}`,
    tiers,
    close: async () => {
      parts.lease?.stop();
      wire.close();
      await server.close();
    },
  };
  return parts;
}

/**
 * Frees what the tiers kept from before a restart that no name server
 * counts as this node's; a failure is logged, and the bytes stay.
 */
async function reconcile(config: Config, node: NodeParts): Promise<void> {
  try {
    const freed = await node.runtime.reconcile();
    if (freed.length > 0) {
      log.warn("copies freed", {
        node: config.node,
        count: freed.length,
        message: `copies no name server counts as its own: ${freed.slice(0, 5).join(", ")}${
          freed.length > 5 ? ", ..." : ""
        }`,
      });
    }
  } catch (e) {
    log.warn("reconcile failed", {
      node: config.node,
      error: `could not check its copies with the name servers: ${(e as Error).message}`,
    });
  }
}

interface NodeInfo {
  id: string;
  url: string;
  wire: string;
  tiers: NodeTier[];
}

function keepLease(
  config: Config,
  node: NodeParts,
  url: string,
  calls: { register(n: NodeInfo): Promise<void>; renew(n: NodeInfo): Promise<void> },
): LeaseKeeper {
  // Every registration and renewal carries the tiers' current usage: what
  // the placement policies of the other nodes see of this one.
  const info = (): NodeInfo => ({
    id: config.node,
    url,
    wire: node.wireAddress,
    tiers: node.tiers.views(),
  });
  const lease = new LeaseKeeper({
    leaseMs: config.leaseMs,
    register: () => calls.register(info()),
    renew: () => calls.renew(info()),
    onError: (e) => log.warn("lease", { node: config.node, error: (e as Error).message }),
  });
  node.lease = lease;
  return lease;
}

/**
 * Serves `fetch` until SIGINT or SIGTERM (calling `stopping` first, then
 * `closing` once requests are done); prints the line `ready` returns once
 * listening.
 */
async function listen(
  config: Config,
  fetch: (req: Request) => Response | Promise<Response>,
  ready: (url: string) => Promise<string>,
  closing: () => Promise<void>,
  stopping?: () => void,
): Promise<number> {
  const ac = new AbortController();
  // Long polls end first, so the server does not wait for them to time out.
  const stop = () => {
    stopping?.();
    ac.abort();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  let bound!: (addr: Deno.NetAddr) => void;
  const listening = new Promise<Deno.NetAddr>((r) => (bound = r));
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: config.listen.hostname,
      port: config.listen.port,
      signal: ac.signal,
      onListen: (addr) => bound(addr),
    }, fetch);
  } catch (e) {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    await closing().catch(() => {});
    console.error(`strata: ${listenError(e, config.listen)}`);
    return 1;
  }
  const addr = await listening;
  try {
    console.log(await ready(`http://${addr.hostname}:${addr.port}`));
    const notice = mallocNotice();
    if (notice !== undefined) log.warn("allocator", { message: notice });
  } catch (e) {
    console.error(`strata: Cannot start: ${(e as Error).message}`);
    ac.abort();
    await server.finished;
    await closing();
    return 1;
  }
  await server.finished;
  await closing();
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  return 0;
}

/**
 * What to say when the HTTP API cannot listen: which address, and how to
 * choose another port.
 */
function listenError(e: unknown, at: { hostname: string; port: number }): string {
  const where = `${at.hostname}:${at.port}`;
  if (e instanceof Deno.errors.AddrInUse) {
    return `Cannot listen on ${where}: port ${at.port} is in use (another Strata?); start with --port PORT (0: any free port) or set 'listen.port' in the config`;
  }
  if (e instanceof Deno.errors.AddrNotAvailable) {
    return `Cannot listen on ${where}: no such address here; set 'listen.hostname' in the config`;
  }
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    return `Cannot listen on ${where}: ${(e as Error).message}`;
  }
  return `Cannot listen on ${where}: ${(e as Error).message}`;
}
