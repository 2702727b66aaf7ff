/**
 * A whole API app in one process for the `api_` tests: registry, runtime
 * (memory, shm and file tiers), name server routes, service metadata and
 * functions, behind a bearer token, with one seeded
 * dataset and one deployed function that the tests check stay intact.
 */
import type { Hono } from "hono";
import { createApp } from "../src/api/app.ts";
import { NodeBook } from "../src/cluster/node_book.ts";
import { ReleaseLog } from "../src/cluster/release_log.ts";
import { FunctionService } from "../src/functions/service.ts";
import { PipelineService } from "../src/functions/pipelines.ts";
import { FunctionStore } from "../src/functions/store.ts";
import { openRegistry, type Registry } from "../src/registry/registry.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { LocalMetaKv } from "../src/services/meta_kv.ts";
import { KIND_DEFAULTS } from "../src/tiers/tier_config.ts";
import { TierSet } from "../src/tiers/tier_set.ts";

/** The token the harness app requires on mutating requests. */
export const TOKEN = "s3cret";

/** The seeded dataset: the fuzz never names it, so it must come out unchanged. */
export const KEEP = "keep";
/** The seeded dataset's description. */
export const KEEP_DESCRIPTION =
  "dataset keep { var x [4]float64 }\nfragment half(lo) { var x = x[lo:lo + 2] }";
/** The bytes of version 1 of the seeded dataset. */
export const KEEP_BYTES: Uint8Array = new Uint8Array(new Float64Array([1, 2, 3, 4]).buffer);

/** A deployed function the fuzz may call but never deploys over. */
export const SUM =
  `export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }";
export const output = "value";
export function run(input: { x: Float64Array }) { return input.x.reduce((a, b) => a + b, 0); }
`;

/** A running app and what it is made of. */
export interface ApiHarness {
  /** The Hono app. */
  readonly app: Hono;
  /** Sends a request to the app. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** The registry. */
  readonly registry: Registry;
  /** The release notices. */
  readonly releases: ReleaseLog;
}

/** Options of `withApiApp()`. */
export interface ApiHarnessOptions {
  /** Largest control body (default 1 MiB, as configured by default). */
  readonly maxBodyBytes?: number;
  /** Largest payload (default 1 MiB). */
  readonly maxPayloadBytes?: number;
  /** Longest wait any route grants (default 50 ms, so a fuzzed wait ends soon). */
  readonly maxWaitMs?: number;
}

/** The harness runtime's tiers: memory first, an shm tier (a directory of the test's own) and a file tier. */
function openTiers(dir: string): Promise<TierSet> {
  return TierSet.open([
    { name: "memory", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory },
    { name: "shm", kind: "shm", capacity: 1 << 20, path: `${dir}/shm`, ...KIND_DEFAULTS.shm },
    { name: "file", kind: "file", capacity: 1 << 20, ...KIND_DEFAULTS.file },
  ], { node: "n1", dataDir: dir });
}

/** Runs `fn` with a whole app, then closes everything. */
export async function withApiApp(
  fn: (h: ApiHarness) => Promise<void>,
  options: ApiHarnessOptions = {},
): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "api_" });
  const registry = await openRegistry({ path: ":memory:" });
  const runtime = new Runtime({
    node: "n1",
    names: registry,
    tiers: await openTiers(await Deno.realPath(dir)),
  });
  const releases = new ReleaseLog({ maxPerNode: 1000 });
  registry.onRelease((copies) => releases.push(copies, "n1"));
  const store = new FunctionStore(registry.kv);
  // The service makes its own sandbox pool, and closes it with itself.
  const functions = new FunctionService({ store, catalog: registry, runtime });
  const pipelines = await PipelineService.open({ store, functions, catalog: registry, runtime });
  const serviceKv = new LocalMetaKv(registry.kv);
  const app = createApp({
    maxBodyBytes: options.maxBodyBytes ?? 1 << 20,
    token: TOKEN,
    data: {
      runtime,
      catalog: registry,
      maxPayloadBytes: options.maxPayloadBytes ?? 1 << 20,
      maxWaitMs: options.maxWaitMs ?? 50,
    },
    cluster: {
      registry,
      releases,
      nodes: new NodeBook(registry),
      maxWaitMs: options.maxWaitMs ?? 50,
    },
    functions: { functions, pipelines, runs: true, maxWaitMs: options.maxWaitMs ?? 50 },
    serviceKv,
  });
  try {
    await registry.createDataset({ name: KEEP, description: KEEP_DESCRIPTION });
    await runtime.publish({
      dataset: KEEP,
      version: 1,
      fragment: "dataset",
      bindings: {},
      bytes: KEEP_BYTES,
    });
    await functions.deploy("sum", SUM, { aliases: ["prod"] });
    await fn({
      app,
      request: async (p, i) => await app.request(p, i),
      registry,
      releases,
    });
  } finally {
    releases.close();
    await serviceKv.close();
    await pipelines.close();
    await functions.close();
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
}
