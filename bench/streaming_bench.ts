/**
 * In-transit staging as users run it: a producer process (runtime embedded,
 * node `producer`) publishes a particle field as an array of structs every
 * step; the consumer (this process, runtime embedded, node `consumer`) waits
 * for each next version and attaches it as struct of arrays into one buffer
 * it reuses step after step (as a staging reader gets into user memory). Steady-state
 * GB/s of field bytes per step, lookup, transfer, checksum and transform
 * included; raw loopback TCP between two processes in the same run.
 *
 * Run: `deno task bench` (or this file with the bench task's permissions).
 *
 * @module
 */

import { writeResults } from "./_results.ts";
import { RemoteNameService } from "../src/cluster/name_client.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { openMemoryAndFile } from "../src/tiers/memory_and_file.ts";
import { WireClient } from "../src/wire/client.ts";
import { startNameserver } from "../tests/_cluster.ts";
import { rawTcp } from "./transfer_bench.ts";

/** One measured field size. */
export interface StreamingPoint {
  /** Field bytes per step. */
  readonly bytes: number;
  /** Steps measured (after warm-up). */
  readonly steps: number;
  /** Steady-state GB/s (1e9 bytes) of field bytes delivered as struct of arrays. */
  readonly gbs: number;
  /** Raw loopback TCP GB/s for the same size into one reused buffer, same run. */
  readonly tcpGBs: number;
  /** Whether every step's columns held the published values. */
  readonly verified: boolean;
}

const MiB = 1 << 20;
const PLAN: [number, number][] = [[1, 120], [16, 40], [64, 30]];
const WARMUP = 2;

const description = (n: number) =>
  `dataset field {
  type P struct { x, y, z, energy float64 }
  var p [${n}]P
}
fragment soa columnar { var p { x, y, z, energy } = p }`;

/** Runs the benchmark and writes bench/results/streaming.{json,md}. */
export async function streamingBench(): Promise<StreamingPoint[]> {
  const ns = await startNameserver();
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const names = new RemoteNameService({ urls: [ns.url], node: "consumer" });
  const wire = new WireClient({ node: "consumer" });
  const runtime = new Runtime({
    node: "consumer",
    names,
    tiers: await openMemoryAndFile({
      node: "consumer",
      dataDir: dir,
      memory: 1 << 20,
      file: 1 << 20,
    }),
    wire,
  });
  const tcp = await rawTcp(64 * MiB);
  const points: StreamingPoint[] = [];
  try {
    for (const [mib, steps] of PLAN) {
      const bytes = mib * MiB;
      const n = bytes / 32;
      const dataset = `field${mib}`;
      await names.createDataset({ name: dataset, description: description(n), retention: 4 });
      const producer = new Deno.Command("deno", {
        args: [
          "run",
          "--allow-net=127.0.0.1",
          "--allow-read=tmp",
          "--allow-write=tmp",
          "bench/_producer.ts",
          ns.url,
          dataset,
          String(n),
          String(steps),
        ],
        stdin: "piped",
        stdout: "null",
        stderr: "inherit",
      }).spawn();
      const acks = producer.stdin.getWriter();
      let verified = true;
      let t0 = 0;
      // The consumer's own memory, reused every step.
      const into = new Uint8Array(bytes);
      const cols = new Float64Array(into.buffer, 0, n * 4);
      for (let v = 1; v <= steps; v++) {
        if (v === WARMUP + 1) t0 = performance.now();
        // The values checked below must come from this step's attach, not an earlier one.
        const k = (v * 7919) % n;
        for (let c = 0; c < 4; c++) cols[c * n + k] = NaN;
        const got = await runtime.attach({
          dataset,
          version: v,
          fragment: "soa",
          bindings: {},
          waitMs: 60_000,
          into,
        });
        if (got.version !== v) throw new Error(`Expected version ${v}, attached ${got.version}`);
        verified &&= got.bytes === into && cols[k] === k && cols[n + k] === -k &&
          cols[2 * n + k] === 2 * k &&
          cols[3 * n + k] === k / 4;
        await acks.write(new TextEncoder().encode(`${v}\n`));
      }
      const seconds = (performance.now() - t0) / 1000;
      await acks.close();
      await producer.status;
      // Into one reused buffer too, as the consumer receives.
      let raw = Infinity;
      for (let r = 0; r < 3; r++) raw = Math.min(raw, await tcp.measure(bytes, into));
      const point = {
        bytes,
        steps: steps - WARMUP,
        gbs: (bytes * (steps - WARMUP)) / seconds / 1e9,
        tcpGBs: bytes / raw / 1e6,
        verified,
      };
      console.error(
        `streaming ${mib} MiB: ${point.gbs.toFixed(2)} GB/s, raw TCP ${point.tcpGBs.toFixed(2)}`,
      );
      points.push(point);
    }
  } finally {
    await tcp.close();
    wire.close();
    names.close();
    await ns.stop();
    await Deno.remove(dir, { recursive: true });
  }
  await write(points);
  return points;
}

async function write(points: StreamingPoint[]): Promise<void> {
  const rows = points.map((p) =>
    `| ${p.bytes / MiB} MiB | ${p.steps} | ${p.gbs.toFixed(2)} | ${p.tcpGBs.toFixed(2)} | ${
      (p.gbs / p.tcpGBs).toFixed(2)
    }x | ${p.verified ? "yes" : "NO"} |`
  );
  await writeResults("streaming", points, (machine) =>
    `# Streaming benchmark

${machine}
A producer process (runtime embedded) publishes particles {x, y, z, energy float64} as an array of
structs every step, at most two versions ahead; the consumer (runtime embedded, another process)
waits for each version and attaches it as struct of arrays (fragment \`soa columnar\`) into one
buffer it reuses every step. GB/s of field bytes per second at steady state (after ${WARMUP} warm-up
steps): registry wait and lookup over HTTP, transfer over the data plane, CRC-32, AoS -> SoA
transform. Raw TCP: two processes, same sizes, into one reused buffer as well, same run.

| field per step | steps | GB/s | raw TCP GB/s | vs raw TCP | values verified |
| ---: | ---: | ---: | ---: | ---: | :---: |
${rows.join("\n")}

For comparison (measured earlier on this machine, not in this run): ADIOS2 SST (sockets data plane,
reader reshaping with numpy) 0.95 GB/s, Redis as a staging store 0.12 GB/s. Goal: 1.5 GB/s.
`);
}

if (import.meta.main) {
  for (const p of await streamingBench()) console.log(JSON.stringify(p));
}
