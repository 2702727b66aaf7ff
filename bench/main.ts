/**
 * Runs every benchmark (`deno task bench`); each writes its results under
 * `bench/results/`.
 *
 * @module
 */

import { functionsBench } from "./functions_bench.ts";
import { registryBench } from "./registry_bench.ts";
import { transformBench } from "./transform_bench.ts";
import { vpicBench } from "./vpic_bench.ts";

await transformBench();
await registryBench();
await functionsBench();
await vpicBench();
