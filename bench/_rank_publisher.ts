/**
 * One rank of the commit benchmark's runs over HTTP: publishes its block of
 * versions 1 to VERSIONS of a dataset at the name server, IN_FLIGHT at a
 * time, as a runtime registers the copies its rank published (RANK `whole`:
 * each version whole, as one producer); prints `ready` once loaded and
 * starts at the first line on its standard input.
 *
 * Run by bench/commit_bench.ts: `deno run --allow-net=127.0.0.1
 * bench/_rank_publisher.ts NAMESERVER DATASET RANK VERSIONS IN_FLIGHT`
 *
 * @module
 */

import { RemoteNameService } from "../src/cluster/name_client.ts";

const [url, dataset, rankText, versionsText, inFlightText] = Deno.args;
// `whole`: one producer publishing each version whole (fragment `dataset`, 4 x 4 float64).
const whole = rankText === "whole";
const rank = Number(rankText);
const versions = Number(versionsText);
const node = whole ? "producer" : `rank-${rank}`;
const names = new RemoteNameService({ urls: [url!], node });
// Started (and compiled) before the clock: the benchmark says go on standard input.
console.log("ready");
await Deno.stdin.readable.getReader().read();
let next = 1;
await Promise.all(Array.from({ length: Number(inFlightText) }, async () => {
  while (next <= versions) {
    const version = next++;
    await names.publishFragment({
      dataset: dataset!,
      version,
      fragment: whole ? "dataset" : "rank",
      bindings: whole ? {} : { r: rank },
      node,
      tier: "memory",
      byteLength: whole ? 128 : 32,
      checksum: 0,
    });
  }
}));
names.close();
