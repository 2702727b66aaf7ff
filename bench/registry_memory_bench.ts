/**
 * The JavaScript heap one registry record holds: datasets created from one
 * description, and copies of one fragment published into one version, in
 * process on a KV file under ./tmp. The heap is summed from V8 heap
 * snapshots (taken through `node:inspector`, which collects garbage first)
 * before and after `count` records; bytes per record are the difference
 * over the count. A registry keeps every record in memory, and the garbage
 * collector marks them all on each full collection: at a million records
 * this is what the name server's rate under load depends on
 * (bench/registry_wrk_bench.ts).
 *
 * Run: `deno task bench registry-memory`, or this file with
 * `--allow-read=. --allow-write=./tmp,./bench/results --allow-sys [count]`.
 *
 * @module
 */

import { Session } from "node:inspector";
import { openRegistry } from "../src/registry/mod.ts";
import { writeResults } from "./_results.ts";
import { cellCopy, CELLS_DESCRIPTION } from "./_cells.ts";

/** The streamed dataset: 4 float64 a version. */
const STREAM = "dataset s { var x [4]float64 }";

const COUNT = import.meta.main ? Number(Deno.args[0] ?? 20_000) : 20_000;

/** One measured kind of record. */
export interface RegistryMemoryPoint {
  /**
   * `dataset`, `copy`, or `streamed version`: a whole version published
   * into a dataset that keeps 2 (what the registry holds per version a
   * stream ever had).
   */
  readonly record: "dataset" | "copy" | "streamed version";
  /** Records added. */
  readonly count: number;
  /** Heap bytes per record (heap after minus heap before, over the count). */
  readonly bytesPerRecord: number;
}

/** The bytes of every object in a heap snapshot of this process. */
async function heapBytes(): Promise<number> {
  const session = new Session();
  session.connect();
  const chunks: string[] = [];
  session.on("HeapProfiler.addHeapSnapshotChunk", (m) => chunks.push(m.params.chunk));
  // The inspector answers on a later turn: keep the event loop alive meanwhile.
  const alive = setInterval(() => {}, 100);
  try {
    await new Promise<void>((resolve, reject) =>
      session.post("HeapProfiler.takeHeapSnapshot", {}, (e) => e ? reject(e) : resolve())
    );
  } finally {
    clearInterval(alive);
    session.disconnect();
  }
  const snap = JSON.parse(chunks.join(""));
  const fields: string[] = snap.snapshot.meta.node_fields;
  const size = fields.indexOf("self_size");
  let total = 0;
  for (let i = size; i < snap.nodes.length; i += fields.length) total += snap.nodes[i];
  return total;
}

/** Measures both kinds of record; writes bench/results/registry_memory.{json,md}. */
export async function registryMemoryBench(): Promise<RegistryMemoryPoint[]> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "registry_memory_" });
  const points: RegistryMemoryPoint[] = [];
  try {
    await using reg = await openRegistry({ path: `${dir}/registry.kv` });
    await reg.createDataset({ name: "warm", description: CELLS_DESCRIPTION });
    await reg.publishFragment(cellCopy("warm", 0));
    await reg.createDataset({ name: "p", description: CELLS_DESCRIPTION });
    await reg.createDataset({ name: "s", description: STREAM, retention: 2 });
    const measure = async (
      record: RegistryMemoryPoint["record"],
      add: (i: number) => Promise<unknown>,
    ) => {
      await reg.drain();
      const before = await heapBytes();
      for (let i = 0; i < COUNT; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, COUNT - i) }, (_, k) => add(i + k)));
      }
      await reg.drain();
      const after = await heapBytes();
      const point = { record, count: COUNT, bytesPerRecord: Math.round((after - before) / COUNT) };
      console.error(`registry memory: ${point.bytesPerRecord} bytes per ${record}`);
      points.push(point);
    };
    // Each create brings its own copy of the text, as each request's body does.
    await measure(
      "dataset",
      (i) =>
        reg.createDataset({
          name: `c-${i}`,
          description: JSON.parse(JSON.stringify(CELLS_DESCRIPTION)),
        }),
    );
    await measure("copy", (i) => reg.publishFragment(cellCopy("p", i)));
    let version = 0;
    await measure("streamed version", () =>
      reg.publishFragment({
        dataset: "s",
        version: ++version,
        fragment: "dataset",
        bindings: {},
        node: "n1",
        tier: "memory",
        byteLength: 32,
        checksum: 0,
      }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await writeResults("registry_memory", points, (machine) =>
    `# Registry memory per record

${machine}

The JavaScript heap one record holds in the registry, in process, from V8 heap snapshots before and
after ${COUNT} records: datasets created from one description (\`var t [1073741824]int8\`, a
fragment \`cell(r)\`; each create given a string of its own, as a request's body gives it), copies of \`cell(r)\` published into one open version, and whole versions
published one after the other into a dataset that keeps 2 (each commits its version and retires
the oldest: what a stream leaves behind per version).

| record | records | heap bytes per record |
| --- | ---: | ---: |
${points.map((p) => `| ${p.record} | ${p.count} | ${p.bytesPerRecord} |`).join("\n")}
`);
  return points;
}

if (import.meta.main) await registryMemoryBench();
