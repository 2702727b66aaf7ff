/**
 * Draws bench/results/NAME.svg again from every bench/results/NAME.md, as
 * `deno task bench` does after each benchmark: for charts of results
 * measured before.
 *
 * ```sh
 * deno run --allow-read=bench/results --allow-write=bench/results bench/charts.ts
 * ```
 *
 * @module
 */

import { writeChart } from "./_results.ts";

for await (const e of Deno.readDir("bench/results")) {
  if (!e.name.endsWith(".md")) continue;
  const name = e.name.slice(0, -3);
  const drawn = await writeChart(name, await Deno.readTextFile(`bench/results/${e.name}`));
  console.log(`${name}: ${drawn ? `bench/results/${name}.svg` : "no figures to draw"}`);
}
