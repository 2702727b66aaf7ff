/**
 * Python clients against a real server, in two parts:
 *
 * 1. Attach time of a float64 field of 1 to 256 MiB from a Python process on
 *    the runtime's node: mapped in place from the shm tier (`map=True`),
 *    against HTTP into a reused buffer and into a new one; and each followed
 *    by a read of every value.
 * 2. The streaming benchmark's work with a Python consumer: a producer
 *    process (bench/_producer.ts) publishes particles as an array of structs
 *    every step; a Python process streams the steps from a runtime of its
 *    own node (`strata runtime`), attaching struct of arrays into one reused
 *    buffer: GB/s of field bytes at steady state.
 *
 * Run: `deno run --allow-read=. --allow-write=bench/results,tmp --allow-net=127.0.0.1
 * --allow-run=deno,sh,/usr/bin/python3 --allow-env=LOG_TOKENS,LOG_STREAM bench/python_bench.ts`
 * Writes bench/results/python.{json,md}.
 *
 * @module
 */

import { writeResults } from "./_results.ts";
import { fieldDescription, spawnProducer } from "./_stream_producer.ts";
import { spawnStrata, startNameserver, startRuntime } from "../tests/_cluster.ts";
import { PYTHON, pythonEnv } from "../tests/_python.ts";

const MiB = 1 << 20;

/** Seconds of one timed attach: median and best of `reps`. */
export interface Timing {
  /** Median, seconds. */
  readonly median: number;
  /** Best, seconds. */
  readonly best: number;
  /** Repetitions. */
  readonly reps: number;
}

/** One field size of part 1. */
export interface AttachPoint {
  /** Field bytes. */
  readonly bytes: number;
  /** Attach mapped in place. */
  readonly map: Timing;
  /** Attach mapped, then a sum of every value. */
  readonly mapSum: Timing;
  /** Attach over HTTP into a reused buffer. */
  readonly httpInto: Timing;
  /** Attach over HTTP into a new buffer. */
  readonly httpNew: Timing;
  /** Attach over HTTP into a reused buffer, then a sum of every value. */
  readonly httpSum: Timing;
  /** Whether the values attached both ways were the published ones. */
  readonly verified: boolean;
}

/** One field size of part 2. */
export interface StreamPoint {
  /** Field bytes per step. */
  readonly bytes: number;
  /** Steps measured (after warm-up). */
  readonly steps: number;
  /**
   * Versions in flight: the producer stays this many ahead of the consumer;
   * 0 asks for each step with a request of its own (the producer 2 ahead),
   * more streams pushed steps (`stream(..., ahead=)`) with the runtime
   * fetching this many ahead.
   */
  readonly ahead: number;
  /** GB/s (1e9 bytes) of field bytes delivered as struct of arrays. */
  readonly gbs: number;
  /** Whether every step's columns held the published values. */
  readonly verified: boolean;
}

const ATTACH_SIZES = [1, 4, 16, 64, 256];
/**
 * Field MiB per step, warm-up steps, steps timed after them, and the ways to
 * stream (`StreamPoint.ahead`). The producer and the runtimes reach their
 * steady rate once the engine has compiled a step's code in its optimising
 * tier: small steps warm up for a thousand (as in streaming_bench.ts).
 */
const STREAM_PLAN: [number, number, number, number[]][] = [
  [1, 1000, 2000, [0, 4, 16]],
  [16, 20, 100, [0, 4]],
  [64, 6, 30, [0, 4]],
];

/**
 * Runs both parts and writes bench/results/python.{json,md}.
 *
 * @example
 * ```ts ignore
 * import { pythonBench } from "./python_bench.ts";
 * const { attach, stream } = await pythonBench();
 * ```
 */
export async function pythonBench(): Promise<{ attach: AttachPoint[]; stream: StreamPoint[] }> {
  const attach = await attachPart();
  const stream = await streamPart();
  await write(attach, stream);
  return { attach, stream };
}

async function attachPart(): Promise<AttachPoint[]> {
  await Deno.mkdir("tmp", { recursive: true });
  const dataDir = await Deno.makeTempDir({ dir: "tmp" });
  const shm = `${Deno.cwd()}/${dataDir}/shm`;
  const server = await spawnStrata(["serve"], {
    dataDir,
    extra: `tiers:\n  - { name: shm, kind: shm, capacity: 2GiB, path: ${shm} }\n` +
      `  - { name: file, kind: file, capacity: 4GiB }\n`,
  });
  try {
    const out = await python(
      ["bench/python/attach_bench.py", server.url, ATTACH_SIZES.join(","), "20"],
    );
    return out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  } finally {
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

async function streamPart(): Promise<StreamPoint[]> {
  const ns = await startNameserver();
  const consumer = await startRuntime("consumer", [ns]);
  const points: StreamPoint[] = [];
  try {
    for (const [mib, warmup, timed, modes] of STREAM_PLAN) {
      for (const ahead of modes) {
        points.push(await streamOnce(ns.url, consumer.url, mib, warmup, timed, ahead));
      }
    }
  } finally {
    await consumer.stop();
    await ns.stop();
  }
  return points;
}

/** One streaming run of `warmup` then `timed` steps of `mib` MiB into a Python consumer. */
async function streamOnce(
  nsUrl: string,
  consumerUrl: string,
  mib: number,
  warmup: number,
  timed: number,
  ahead: number,
): Promise<StreamPoint> {
  const steps = warmup + timed;
  const bytes = mib * MiB;
  const n = bytes / 32;
  const dataset = `field${mib}a${ahead}`;
  const window = ahead === 0 ? 2 : ahead;
  const created = await fetch(`${nsUrl}/v1/datasets`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name: dataset,
      retention: window + 2,
      description: fieldDescription(n),
    }),
  });
  if (!created.ok) throw new Error(await created.text());
  await created.body?.cancel();
  const producer = spawnProducer(nsUrl, dataset, n, steps, window);
  const reader = new Deno.Command(PYTHON, {
    args: [
      "bench/python/stream_consumer.py",
      consumerUrl,
      dataset,
      String(steps),
      String(warmup),
      String(ahead),
    ],
    env: pythonEnv(),
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // Each version the Python consumer prints is acknowledged to the producer.
  const acks = producer.stdin.getWriter();
  let last = "";
  let text = "";
  for await (const chunk of reader.stdout.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    const lines = text.split("\n");
    text = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith("{")) last = line;
      else await acks.write(new TextEncoder().encode(`${line}\n`));
    }
  }
  if (text.startsWith("{")) last = text;
  await acks.close();
  await producer.status;
  if (!(await reader.status).success) throw new Error("The Python consumer failed");
  const got = JSON.parse(last) as { seconds: number; steps: number; verified: boolean };
  const point = {
    bytes,
    steps: got.steps,
    ahead,
    gbs: bytes * got.steps / got.seconds / 1e9,
    verified: got.verified,
  };
  console.error(
    `python streaming ${mib} MiB, ${ahead === 0 ? "a request per step" : `${ahead} ahead`}: ${
      point.gbs.toFixed(2)
    } GB/s`,
  );
  return point;
}

async function python(args: string[]): Promise<string> {
  const out = await new Deno.Command(PYTHON, {
    args,
    env: pythonEnv(),
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`${args[0]} failed`);
  return new TextDecoder().decode(out.stdout);
}

const ms = (s: number) => (s * 1000).toFixed(s < 0.001 ? 3 : 2);
const gbs = (bytes: number, s: number) => (bytes / s / 1e9).toFixed(2);

async function write(attach: AttachPoint[], stream: StreamPoint[]): Promise<void> {
  const a = attach.map((p) =>
    `| ${p.bytes / MiB} MiB | ${ms(p.map.median)} | ${ms(p.httpInto.median)} | ${
      ms(p.httpNew.median)
    } | ${(p.httpInto.median / p.map.median).toFixed(0)}x | ${ms(p.mapSum.median)} | ${
      ms(p.httpSum.median)
    } | ${gbs(p.bytes, p.mapSum.median)} | ${gbs(p.bytes, p.httpSum.median)} | ${
      p.verified ? "yes" : "NO"
    } |`
  );
  const s = stream.map((p) =>
    `| ${p.bytes / MiB} MiB | ${
      p.ahead === 0 ? "a request per step, 2" : `pushed, ${p.ahead}`
    } | ${p.steps} | ${p.gbs.toFixed(2)} | ${p.verified ? "yes" : "NO"} |`
  );
  await writeResults("python", [...attach, ...stream], (machine) =>
    `# Python client benchmark

${machine} Python: Debian's /usr/bin/python3 with numpy.

## Attach on the runtime's node: mapped in place against HTTP

A float64 field published once into \`strata serve\` whose first tier is an shm tier (a directory
under tmp/: on this VM a disk, read through the page cache); a Python process attaches it.
Mapped: \`attach(map=True)\` (map request, lease, \`numpy.memmap\` of the copy's file, views; then
the lease released). HTTP: \`attach(map=False)\` into a reused buffer, and into a new one. Medians in
ms. The last columns add a read of every value (\`sum()\`): a mapping's first read faults its pages
in, which is where its bytes are paid.

| field | map ms | HTTP into ms | HTTP new ms | HTTP into / map | map + sum ms | HTTP + sum ms | map + sum GB/s | HTTP + sum GB/s | values verified |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |
${a.join("\n")}

## Streaming with a Python consumer

The streaming benchmark's work (bench/streaming_bench.ts) with the consumer in Python: a producer
process (runtime embedded) publishes particles {x, y, z, energy float64} as an array of structs every
step, at most "in flight" versions ahead of the consumer; a \`strata runtime\` on the consumer's
node fetches each version over the data plane and reshapes it (AoS -> SoA, fragment
\`soa columnar\`); the Python process streams the steps from that runtime into one reused buffer,
either asking for each step with a request (\`client.stream(...)\`) or reading the steps the runtime
pushes over one response while it fetches the next ones (\`client.stream(..., ahead=N)\`, \`GET
.../steps\`). GB/s of field bytes at steady state, over the steps timed after the warm-up steps (${
      STREAM_PLAN.map(([mib, warmup, timed]) => `${mib} MiB: ${warmup} then ${timed}`).join("; ")
    }).

| field per step | how, versions in flight | steps | GB/s | values verified |
| ---: | :--- | ---: | ---: | :---: |
${s.join("\n")}

For comparison (measured earlier on this machine, not in this run): ADIOS2 SST's Python reader
1.29-1.57 GB/s at 1 MiB steps, 1.41 at 16 MiB, 1.06-1.10 at 64 MiB.
`);
}

if (import.meta.main) {
  const { attach, stream } = await pythonBench();
  for (const p of [...attach, ...stream]) console.log(JSON.stringify(p));
}
