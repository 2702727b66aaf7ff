/**
 * Runs every benchmark (`deno task bench`); each writes its results under
 * `bench/results/`.
 *
 * @module
 */

import { transformBench } from "./transform_bench.ts";

await transformBench();
