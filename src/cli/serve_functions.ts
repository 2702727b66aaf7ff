/**
 * The function and pipeline services of `strata serve`: deployments in the
 * registry's KV, Workers pooled per function version, type checks with
 * `deno check` on sources written under `<dataDir>/functions/check`.
 *
 * @module
 */

import { FunctionService } from "../functions/service.ts";
import { PipelineService } from "../functions/pipelines.ts";
import { FunctionStore } from "../functions/store.ts";
import { TypeChecker } from "../functions/typecheck.ts";
import type { Registry } from "../registry/registry.ts";
import type { Runtime } from "../runtime/runtime.ts";

/** The services, and how to stop them. */
export interface ServedFunctions {
  /** The function service. */
  readonly functions: FunctionService;
  /** The pipeline service. */
  readonly pipelines: PipelineService;
  /** Stops the pipelines (runs under way finish), then the Workers. */
  close(): Promise<void>;
}

/** Opens the function and pipeline services over the registry and runtime. */
export async function openFunctions(options: {
  readonly registry: Registry;
  readonly runtime: Runtime;
  readonly dataDir: string;
}): Promise<ServedFunctions> {
  const store = new FunctionStore(options.registry.kv);
  const functions = new FunctionService({
    store,
    catalog: options.registry,
    runtime: options.runtime,
    typeChecker: new TypeChecker({ dir: `${options.dataDir}/functions/check` }),
  });
  functions.warm();
  const pipelines = await PipelineService.open({
    store,
    functions,
    catalog: options.registry,
    runtime: options.runtime,
  });
  return {
    functions,
    pipelines,
    close: async () => {
      await pipelines.close();
      functions.close();
    },
  };
}
