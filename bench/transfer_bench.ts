/**
 * Remote attach throughput: a runtime attaches a fragment held by another
 * runtime process (name server lookup over HTTP, the bytes over the data
 * plane, checksum verified), 1 MiB to 256 MiB, next to raw loopback TCP
 * between two processes in the same run (the hardware limit), as a ratio.
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
import { startNameserver, startRuntime } from "../tests/_cluster.ts";

/** One measured size. */
export interface TransferPoint {
  /** Payload bytes. */
  readonly bytes: number;
  /** Best remote attach, GB/s (1e9 bytes). */
  readonly attachGBs: number;
  /** Median remote attach, GB/s. */
  readonly attachMedianGBs: number;
  /** Best raw loopback TCP, GB/s. */
  readonly tcpGBs: number;
  /** attachGBs / tcpGBs. */
  readonly ratio: number;
  /** Best remote attach into one buffer reused every run (`into`), GB/s. */
  readonly intoGBs: number;
  /** Best raw loopback TCP into one buffer reused every run, GB/s. */
  readonly tcpIntoGBs: number;
  /** Whether every attach returned the published bytes. */
  readonly verified: boolean;
}

const MiB = 1 << 20;
const SIZES = [1, 4, 16, 64, 256].map((m) => m * MiB);

function reps(bytes: number): number {
  return bytes >= 256 * MiB ? 3 : bytes >= 64 * MiB ? 6 : 12;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** A raw TCP sender in its own process, and a connection to it (the hardware limit). */
export async function rawTcp(max: number) {
  const child = new Deno.Command("deno", {
    args: ["run", "--allow-net=127.0.0.1", "bench/_tcp_sender.ts", String(max)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) text += (await reader.read()).value ?? "";
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(text.trim()) });
  conn.setNoDelay(true);
  return {
    /**
     * Milliseconds to receive `size` bytes into a fresh buffer (as an attach
     * allocates its result), or into `into` when given.
     */
    async measure(size: number, into?: Uint8Array): Promise<number> {
      const req = new Uint8Array(8);
      new DataView(req.buffer).setBigUint64(0, BigInt(size), true);
      const t0 = performance.now();
      const dst = into ?? new Uint8Array(size);
      await conn.write(req);
      let off = 0;
      while (off < size) off += (await conn.read(dst.subarray(off)))!;
      return performance.now() - t0;
    },
    async close() {
      conn.close();
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel();
    },
  };
}

/** Runs the benchmark and writes bench/results/transfer.{json,md}. */
export async function transferBench(): Promise<TransferPoint[]> {
  const ns = await startNameserver();
  const a = await startRuntime("a", [ns]);
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const names = new RemoteNameService({ urls: [ns.url], node: "b" });
  const wire = new WireClient({ node: "b" });
  const runtime = new Runtime({
    node: "b",
    names,
    tiers: await openMemoryAndFile({ node: "b", dataDir: dir, memory: 1 << 30, file: 1 << 30 }),
    wire,
  });
  const points: TransferPoint[] = [];
  const tcp = await rawTcp(Math.max(...SIZES));
  try {
    for (const size of SIZES) {
      const name = `t${size}`;
      const payload = new Uint8Array(size).map((_, i) => (i * 13) & 0xff);
      await names.createDataset({ name, description: `dataset { var x [${size / 8}]float64 }` });
      const res = await fetch(`${a.url}/v1/datasets/${name}/versions/1/fragments/dataset`, {
        method: "PUT",
        headers: { "content-type": "application/octet-stream" },
        body: payload,
      });
      if (res.status !== 201) throw new Error(`Publish failed: ${await res.text()}`);
      await res.body?.cancel();
      const times: number[] = [];
      const raw: number[] = [];
      const intoTimes: number[] = [];
      const rawInto: number[] = [];
      const reused = new Uint8Array(size);
      let ok = true;
      // Attach and raw TCP alternate, so both see the same load on a shared machine.
      for (let r = 0; r < reps(size) + 1; r++) {
        const tcpMs = await tcp.measure(size);
        if (r > 0) raw.push(tcpMs);
        const t0 = performance.now();
        const got = await runtime.attach({
          dataset: name,
          version: 1,
          fragment: "dataset",
          bindings: {},
          reshape: "destination",
        });
        const ms = performance.now() - t0;
        if (r > 0) times.push(ms);
        if (r === 0) ok = got.bytes.length === size && got.bytes.every((b, i) => b === payload[i]);
        // The same into one buffer reused every run (a reader's own memory).
        const tcpInto = await tcp.measure(size, reused);
        if (r > 0) rawInto.push(tcpInto);
        if (r === 0) reused.fill(0);
        const t1 = performance.now();
        await runtime.attach({
          dataset: name,
          version: 1,
          fragment: "dataset",
          bindings: {},
          reshape: "destination",
          into: reused,
        });
        if (r > 0) intoTimes.push(performance.now() - t1);
        if (r === 0) ok &&= reused.every((b, i) => b === payload[i]);
      }
      const gbs = (ms: number) => size / ms / 1e6;
      const best = gbs(Math.min(...times));
      const rawBest = gbs(Math.min(...raw));
      points.push({
        bytes: size,
        attachGBs: best,
        attachMedianGBs: gbs(median(times)),
        tcpGBs: rawBest,
        ratio: best / rawBest,
        intoGBs: gbs(Math.min(...intoTimes)),
        tcpIntoGBs: gbs(Math.min(...rawInto)),
        verified: ok,
      });
      const last = points[points.length - 1]!;
      console.error(
        `transfer ${size / MiB} MiB: ${best.toFixed(2)} GB/s, raw TCP ${rawBest.toFixed(2)}; ` +
          `into a reused buffer ${last.intoGBs.toFixed(2)}, raw TCP ${last.tcpIntoGBs.toFixed(2)}`,
      );
    }
  } finally {
    await tcp.close();
    wire.close();
    names.close();
    await a.stop();
    await ns.stop();
    await Deno.remove(dir, { recursive: true });
  }
  await write(points);
  return points;
}

async function write(points: TransferPoint[]): Promise<void> {
  const rows = points.map((p) =>
    `| ${p.bytes / MiB} MiB | ${p.attachGBs.toFixed(2)} | ${p.attachMedianGBs.toFixed(2)} | ${
      p.tcpGBs.toFixed(2)
    } | ${p.ratio.toFixed(2)}x | ${p.intoGBs.toFixed(2)} | ${p.tcpIntoGBs.toFixed(2)} | ${
      (p.intoGBs / p.tcpIntoGBs).toFixed(2)
    }x | ${p.verified ? "yes" : "NO"} |`
  );
  await writeResults("transfer", points, (machine) =>
    `# Transfer benchmark

${machine}
Runtime \`b\` (the benchmark process) attaches the whole fragment held in memory by runtime \`a\`
(its own process): name server lookup over HTTP, bytes over the data plane, CRC-32 checked as they
arrive, no reshape. Raw TCP: another process writes the same number of bytes on a loopback
connection into a fresh buffer, same run. Best and median of ${reps(MiB)} (1-16 MiB), ${
      reps(64 * MiB)
    } (64 MiB) and ${reps(256 * MiB)} (256 MiB) runs after a warm-up.
The \`into\` columns: the same, each receiving into one buffer reused every run (\`into\` of
\`Runtime.attach\`, as a reader attaching into its own memory; best of the same runs), so that neither
pays for a fresh allocation.

| size | attach GB/s (best) | attach GB/s (median) | raw TCP GB/s | attach / TCP | into: attach GB/s | into: raw TCP GB/s | into: attach / TCP | bytes verified |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |
${rows.join("\n")}

Goal: 64 MiB at 0.7x raw TCP or better.
`);
}

if (import.meta.main) {
  for (const p of await transferBench()) console.log(JSON.stringify(p));
}
