/**
 * Runs every benchmark (`deno task bench`); each writes its results under
 * `bench/results/`.
 *
 * @module
 */

import { registryBench } from "./registry_bench.ts";
import { tiersBench } from "./tiers_bench.ts";
import { transformBench } from "./transform_bench.ts";

await transformBench();
await registryBench();
await tiersBench();
