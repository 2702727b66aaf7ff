/**
 * The function and pipeline services of the long-running commands. Where
 * functions are kept (`strata serve`, `strata nameserver`): deployments in
 * the registry's KV, type checks with `deno check` on sources written under
 * `<dataDir>/functions/check`, pipelines handing their runs to the node the
 * placement chose. On a runtime in its own process (`strata runtime`): a
 * service that only runs functions, reading them from the name server that
 * keeps them. Workers are pooled per function version in every process.
 *
 * @module
 */

import { UnavailableError } from "../errors.ts";
import type { RunNode } from "../functions/dispatch.ts";
import { type FunctionCatalog, FunctionService } from "../functions/service.ts";
import { PipelineService } from "../functions/pipelines.ts";
import type { PoolOptions } from "../functions/pool.ts";
import type { Config } from "./config.ts";
import { RemoteFunctions } from "../functions/remote_functions.ts";
import { FunctionStore } from "../functions/store.ts";
import { TypeChecker } from "../functions/typecheck.ts";
import type { ShardedCatalog } from "../cluster/sharded_catalog.ts";
import type { Registry } from "../registry/registry.ts";
import type { Runtime } from "../runtime/runtime.ts";

/** The services, and how to stop them. */
export interface ServedFunctions {
  /** The function service. */
  readonly functions: FunctionService;
  /** The pipeline service. */
  readonly pipelines: PipelineService;
  /**
   * Where an invocation runs when this process holds no data: the URL of a
   * live runtime holding the version (or any live runtime).
   */
  readonly invokeAt?: (dataset: string, version: number | "latest") => Promise<string>;
  /** Stops the pipelines (runs under way finish), then the Workers. */
  close(): Promise<void>;
}

/**
 * Opens the function and pipeline services over the registry, and the
 * runtime of this process when it has one (`strata serve`).
 */
export async function openFunctions(options: {
  readonly registry: Registry;
  /**
   * Where datasets and commits come from, when not all are in `registry`
   * (the registry sharded over several name servers).
   */
  readonly catalog?: ShardedCatalog;
  readonly runtime?: Runtime;
  readonly dataDir: string;
  readonly token?: string;
  readonly pool?: PoolOptions;
}): Promise<ServedFunctions> {
  const { registry, runtime } = options;
  const catalog = options.catalog ?? registry;
  const store = new FunctionStore(registry.kv);
  const functions = new FunctionService({
    store,
    catalog,
    ...(runtime === undefined ? {} : { runtime }),
    typeChecker: new TypeChecker({ dir: `${options.dataDir}/functions/check` }),
    ...(options.pool === undefined ? {} : { poolOptions: options.pool }),
  });
  functions.warm();
  const pipelines = await PipelineService.open({
    store,
    functions,
    catalog,
    ...(runtime === undefined ? {} : { runtime }),
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  const served: ServedFunctions = {
    functions,
    pipelines,
    close: async () => {
      await pipelines.close();
      await functions.close();
    },
  };
  if (runtime !== undefined) return served;
  return {
    ...served,
    invokeAt: async (dataset, version) => {
      const live = await registry.listNodes();
      let holders: string[] = [];
      try {
        const found = await catalog.attachFragments({
          dataset,
          version,
          fragment: "dataset",
          bindings: {},
        });
        holders = found.sources.map((s) => s.node);
      } catch {
        // Not committed yet, or unknown: the runtime that runs it says which.
      }
      return pickNode(live, holders).url;
    },
  };
}

/**
 * The function service of a runtime in its own process: it runs functions
 * on this node's data (invocations, and the runs pipelines hand it) and
 * reads their versions from `keeper`, the name server that keeps them.
 */
export function openRunner(options: {
  readonly runtime: Runtime;
  readonly catalog: FunctionCatalog;
  readonly keeper: string;
  readonly token?: string;
  readonly pool?: PoolOptions;
}): FunctionService {
  const functions = new FunctionService({
    lookup: new RemoteFunctions({
      url: options.keeper,
      ...(options.token === undefined ? {} : { token: options.token }),
    }),
    catalog: options.catalog,
    runtime: options.runtime,
    ...(options.pool === undefined ? {} : { poolOptions: options.pool }),
  });
  functions.warm();
  return functions;
}

/**
 * The node an invocation runs on: the first live holder of the data, or
 * any live node. `UnavailableError` when none is live.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pickNode } from "./serve_functions.ts";
 * const live = [{ id: "a", url: "http://a" }, { id: "b", url: "http://b" }];
 * assert.equal(pickNode(live, ["c", "b"]).id, "b");
 * assert.equal(pickNode(live, []).id, "a");
 * assert.throws(() => pickNode([], ["a"]), /No runtime is live/);
 * ```
 */
export function pickNode(live: readonly RunNode[], holders: readonly string[]): RunNode {
  for (const h of holders) {
    const n = live.find((l) => l.id === h);
    if (n !== undefined) return n;
  }
  const any = live[0];
  if (any === undefined) throw new UnavailableError("No runtime is live to run the function on");
  return any;
}

/**
 * The sandbox pool's options from the configuration's `functions` section.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONFIG } from "./config.ts";
 * import { poolOptionsOf } from "./serve_functions.ts";
 * assert.equal(poolOptionsOf(DEFAULT_CONFIG).maxProcesses, 16);
 * ```
 */
export function poolOptionsOf(config: Pick<Config, "functions">): PoolOptions {
  const f = config.functions;
  return {
    perModule: f.processesPerVersion,
    maxProcesses: f.maxProcesses,
    spares: f.spares,
    idleMs: f.idleMs,
    launcher: { nice: f.nice },
  };
}
