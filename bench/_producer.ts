/**
 * The producer of the streaming benchmark: a simulation with the runtime
 * embedded (node `producer`), publishing an array of structs every step.
 * It stays at most AHEAD (default 2) versions ahead of the consumer, which
 * writes the last version it consumed on this process's stdin, one per line.
 *
 * With NAMESERVER `host`, the producer's process holds the registry too, as
 * `strata serve` holds both (and as ADIOS2 SST's writer serves its own
 * metadata): it creates DATASET (keeping AHEAD + 2 versions), serves the
 * name server's API on a port of its own, prints that URL as its first
 * line, and exits once the consumer closed its standard input.
 *
 * Run by bench/streaming_bench.ts: `deno run --allow-net=127.0.0.1
 * --allow-read=tmp --allow-write=tmp bench/_producer.ts NAMESERVER|host DATASET PARTICLES STEPS [AHEAD]`
 *
 * @module
 */

import { createApp } from "../src/api/app.ts";
import { RemoteNameService } from "../src/cluster/name_client.ts";
import { NodeBook } from "../src/cluster/node_book.ts";
import { ReleaseLog } from "../src/cluster/release_log.ts";
import type { NameService } from "../src/name_service/name_service.ts";
import { openRegistry } from "../src/registry/registry.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { openMemoryAndFile } from "../src/tiers/memory_and_file.ts";
import { WireClient } from "../src/wire/client.ts";
import { WireServer } from "../src/wire/server.ts";
import { fieldDescription } from "./_stream_producer.ts";

const [url, dataset, count, stepsText, aheadText] = Deno.args;
const node = `producer-${dataset}`;
const n = Number(count);
const steps = Number(stepsText);
const ahead = Number(aheadText ?? 2);
const dir = await Deno.makeTempDir({ dir: "tmp" });
const host = url === "host" ? await hostRegistry() : undefined;
const remote = host === undefined ? new RemoteNameService({ urls: [url!], node }) : undefined;
const names: NameService = host?.registry ?? remote!;
const runtime = new Runtime({
  node,
  names,
  tiers: await openMemoryAndFile({
    node: node,
    dataDir: dir,
    memory: 8 * 1024 ** 3,
    file: 1 << 20,
  }),
  wire: new WireClient({ node }),
});
const server = WireServer.listen({ port: 0, node, source: runtime });
const me = { id: node, url: "http://127.0.0.1:1", wire: `127.0.0.1:${server.port}`, tiers: [] };
if (host !== undefined) await host.nodes.register(me, 600_000);
else await remote!.registerNode(me, 600_000);
if (host !== undefined) {
  await host.registry.createDataset({
    name: dataset!,
    description: fieldDescription(n),
    retention: ahead + 2,
  });
  console.log(host.url);
}

/** The registry in this process, its name server API served on loopback. */
async function hostRegistry() {
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  const releases = await ReleaseLog.open(registry.kv, { committer: registry.committer });
  registry.onRelease((copies) => releases.push(copies, node));
  const nodes = new NodeBook(registry);
  const app = createApp({ maxBodyBytes: 1 << 20, cluster: { registry, releases, nodes } });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  return { registry, nodes, url: `http://127.0.0.1:${http.addr.port}` };
}

// Particles {x, y, z, energy float64}, as the simulation holds them.
const field = new Float64Array(n * 4);
for (let i = 0; i < n; i++) {
  field[4 * i] = i;
  field[4 * i + 1] = -i;
  field[4 * i + 2] = 2 * i;
  field[4 * i + 3] = i / 4;
}
const bytes = new Uint8Array(field.buffer);

let consumed = 0;
/** Resolves the wait of the publish loop: an ack came in or a publish finished. */
let wake = () => {};
const changed = () => new Promise<void>((resolve) => (wake = resolve));
const acks = (async () => {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let text = "";
  for await (const chunk of lines) {
    text += chunk;
    const parts = text.split("\n");
    text = parts.pop()!;
    for (const p of parts) consumed = Math.max(consumed, Number(p));
    wake();
  }
})();

// Like a simulation that computes its next step while the last ones are
// published: up to `ahead` publishes in flight, never more than `ahead`
// versions ahead of the consumer.
const inflight = new Set<Promise<unknown>>();
for (let v = 1; v <= steps; v++) {
  while (consumed < v - ahead || inflight.size >= ahead) await changed();
  const p = runtime.publish({
    dataset: dataset!,
    version: v,
    fragment: "dataset",
    bindings: {},
    bytes,
  });
  inflight.add(p);
  p.finally(() => {
    inflight.delete(p);
    wake();
  });
}
await Promise.all(inflight);
console.log("published");
await acks;
await server.close();
remote?.close();
await Deno.remove(dir, { recursive: true });
// A name server's connections from the consumer's runtime would hold a graceful shutdown open.
if (host !== undefined) Deno.exit(0);
