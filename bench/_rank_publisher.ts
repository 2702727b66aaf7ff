/**
 * One rank of the commit benchmark's runs over HTTP: publishes its block of
 * versions 1 to VERSIONS of a dataset at the name server, IN_FLIGHT at a
 * time, as a runtime registers the copies its rank published; prints
 * `ready` once loaded and starts at the first line on its standard input.
 *
 * Run by bench/commit_bench.ts: `deno run --allow-net=127.0.0.1
 * bench/_rank_publisher.ts NAMESERVER DATASET RANK VERSIONS IN_FLIGHT`
 *
 * @module
 */

import { RemoteNameService } from "../src/cluster/name_client.ts";

const [url, dataset, rankText, versionsText, inFlightText] = Deno.args;
const rank = Number(rankText);
const versions = Number(versionsText);
const names = new RemoteNameService({ urls: [url!], node: `rank-${rank}` });
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
      fragment: "rank",
      bindings: { r: rank },
      node: `rank-${rank}`,
      tier: "memory",
      byteLength: 32,
      checksum: 0,
    });
  }
}));
names.close();
