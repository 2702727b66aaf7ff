/**
 * Runs every benchmark (`deno task bench`); each writes its results under
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

await transformBench();
await registryBench();
await transferBench();
await streamingBench();
await restartBench();
await tiersBench();
await functionsBench();
await vpicBench();
