/**
 * Runs every benchmark (`deno task bench`), or those named
 * (`deno task bench registry transfer`); each writes its results under
 * `bench/results/`.
 *
 * @module
 */

import { functionsBench } from "./functions_bench.ts";
import { registryBench } from "./registry_bench.ts";
import { tiersBench } from "./tiers_bench.ts";
import { transformBench } from "./transform_bench.ts";
import { transferBench } from "./transfer_bench.ts";
import { streamingBench } from "./streaming_bench.ts";
import { restartBench } from "./restart_bench.ts";
import { vpicBench } from "./vpic_bench.ts";
import { servicesBench } from "./services_bench.ts";
import { flamestoreBench } from "./flamestore_bench.ts";
import { mobjectBench } from "./mobject_bench.ts";
import { pythonBench } from "./python_bench.ts";
import { wrkBench } from "./wrk_bench.ts";
import { commitBench } from "./commit_bench.ts";
import { registryWrkBench } from "./registry_wrk_bench.ts";
import { registryMemoryBench } from "./registry_memory_bench.ts";
import { mallocBench } from "./malloc_bench.ts";
import { httpAgentBench } from "./http_agent_bench.ts";

const BENCHES: Record<string, () => Promise<unknown>> = {
  transform: transformBench,
  registry: registryBench,
  transfer: transferBench,
  streaming: streamingBench,
  restart: restartBench,
  tiers: tiersBench,
  functions: functionsBench,
  vpic: vpicBench,
  services: servicesBench,
  flamestore: flamestoreBench,
  mobject: mobjectBench,
  python: pythonBench,
  wrk: wrkBench,
  commits: commitBench,
  "registry-wrk": registryWrkBench,
  "registry-memory": registryMemoryBench,
  malloc: mallocBench,
  "http-agent": httpAgentBench,
};

// `deno task bench` runs them all; `deno task bench registry transfer` runs those.
const chosen = Deno.args.length === 0 ? Object.keys(BENCHES) : Deno.args;
for (const name of chosen) {
  const run = BENCHES[name];
  if (run === undefined) {
    console.error(`Unknown benchmark '${name}': expected ${Object.keys(BENCHES).join(", ")}`);
    Deno.exit(2);
  }
  await run();
}
