/**
 * Function benchmark: cold start (deploy to first result, and a version's
 * first call with no warm Worker), warm invocation latency p50/p99, and
 * batched invocations per second, next to a bare permission-less process and Worker
 * measured in the same run (spawn to first reply, and a round trip with a
 * transferred buffer): the hardware limit of a sandboxed call.
 *
 * In process (no HTTP): the registry on a KV file under tmp/, a runtime with
 * a memory tier, the function service and its sandbox process pool.
 *
 * Run: `deno task bench`, or
 * `deno run --allow-read=. --allow-write=bench/results,tmp --allow-run=deno,sh bench/functions_bench.ts`
 *
 * @module
 */

import { writeResultFiles } from "./_results.ts";
import { FunctionService } from "../src/functions/service.ts";
import { FunctionStore } from "../src/functions/store.ts";
import { TypeChecker } from "../src/functions/typecheck.ts";
import { SandboxPool } from "../src/functions/pool.ts";
import { openRegistry } from "../src/registry/registry.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { openMemoryAndFile } from "../src/tiers/memory_and_file.ts";

/** Latency figures, in microseconds. */
export interface Latency {
  /** Median. */
  readonly p50: number;
  /** 99th percentile. */
  readonly p99: number;
  /** Samples. */
  readonly n: number;
}

/** What one run measured. */
export interface FunctionsBenchResult {
  /** Where and when. */
  readonly machine: string;
  /** A bare Worker with no permissions: spawn to first reply (ms), and round trip (µs) in the blocks alternating with `warmInvoke`. */
  readonly bareWorker: { readonly coldMs: number; readonly roundTrip: Latency };
  /** Deploy with `deno check` and dry run, then the first invocation (ms, medians). */
  readonly deployChecked: { readonly deployMs: number; readonly firstResultMs: number };
  /** Deploy with the dry run only, then the first invocation (ms, medians). */
  readonly deployUnchecked: { readonly deployMs: number; readonly firstResultMs: number };
  /** A bare permission-less `deno run` process echoing over pipes: spawn to first reply (ms), and round trip (µs). */
  readonly bareProcess: { readonly coldMs: number; readonly roundTrip: Latency };
  /** A version's first call with no warm Worker: from a spare Worker, and spawning one (ms, medians). */
  readonly coldCall: { readonly spareMs: number; readonly spawnMs: number };
  /** Warm invocation on a stored 64-element fragment (attach, call, result), µs. */
  readonly warmInvoke: Latency;
  /** Warm call on arrays the caller holds, one per message, µs. */
  readonly warmCall: Latency;
  /** The bare Worker's round trip in the blocks alternating with `warmCall`, µs. */
  readonly warmCallBare: Latency;
  /** Small calls (16 float32 each) per second, batched 512 per message over 2 Workers. */
  readonly batched: { readonly calls: number; readonly perSecond: number };
}

const SUM = (salt: number) =>
  `import type { FunctionContext } from "strata/function";
export const input = "dataset { var x [64]float64 }\\nfragment all { var x = x }";
export const output = "value";
export function run(input: { x: Float64Array }, _ctx: FunctionContext): number {
  let s = ${salt};
  for (let i = 0; i < input.x.length; i++) s += input.x[i]!;
  return s;
}
`;

const SMALL =
  `export const input = "dataset { var n int64; var v [n]float32 }\\nfragment all { var v = v }";
export const output = "value";
export function run(input: { v: Float32Array }): number {
  let s = 0;
  for (let i = 0; i < input.v.length; i++) s += input.v[i]!;
  return s;
}
`;

function latency(samples: number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: round(at(0.5) * 1000), p99: round(at(0.99) * 1000), n: s.length };
}

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return round(s[Math.floor(s.length / 2)]!);
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

/** A bare Worker with no permissions echoing a transferred buffer: its cold start, and a round trip. */
async function bareWorker(): Promise<
  { coldMs: number; trip: () => Promise<unknown>; close(): void }
> {
  const url = "data:application/javascript," +
    encodeURIComponent("self.onmessage = (e) => postMessage(e.data, [e.data]);");
  const spawn = () => new Worker(url, { type: "module", deno: { permissions: "none" } });
  const colds: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const w = spawn();
    await new Promise((r) => {
      w.onmessage = r;
      const b = new ArrayBuffer(512);
      w.postMessage(b, [b]);
    });
    colds.push(performance.now() - t);
    w.terminate();
  }
  const w = spawn();
  let resolve: (v: unknown) => void = () => {};
  w.onmessage = (e) => resolve(e.data);
  const trip = () =>
    new Promise((r) => {
      resolve = r;
      const b = new ArrayBuffer(512);
      w.postMessage(b, [b]);
    });
  return { coldMs: median(colds), trip, close: () => w.terminate() };
}

const ECHO = `const buf = new Uint8Array(512);
await Deno.stdout.write(new Uint8Array(1));
for (;;) {
  let at = 0;
  while (at < 512) { const n = await Deno.stdin.read(buf.subarray(at)); if (n === null) Deno.exit(0); at += n; }
  let out = 0;
  while (out < 512) out += await Deno.stdout.write(buf.subarray(out));
}`;

/**
 * A bare `deno run` process with no permissions echoing 512 bytes over its
 * standard input and output: its cold start, and a round trip. The floor
 * under a call to a sandbox process.
 */
async function bareProcess(dir: string): Promise<
  { coldMs: number; trip: () => Promise<unknown>; close(): Promise<void> }
> {
  const path = `${dir}/echo.ts`;
  await Deno.writeTextFile(path, ECHO);
  const spawn = async () => {
    const child = new Deno.Command("deno", {
      args: ["run", "--no-config", "--no-prompt", path],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.getReader({ mode: "byob" });
    const writer = child.stdin.getWriter();
    let buf = new Uint8Array(512);
    const read = async (n: number) => {
      let at = 0;
      while (at < n) {
        const { value } = await reader.read(buf.subarray(at, n));
        buf = new Uint8Array(value!.buffer);
        at += value!.byteLength;
      }
    };
    await read(1);
    return { child, writer, read };
  };
  const colds: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const p = await spawn();
    await p.writer.write(new Uint8Array(512));
    await p.read(512);
    colds.push(performance.now() - t);
    await p.writer.close();
    await p.child.status;
  }
  const p = await spawn();
  const message = new Uint8Array(512);
  const trip = async () => {
    await p.writer.write(message);
    await p.read(512);
  };
  return {
    coldMs: median(colds),
    trip,
    close: async () => {
      await p.writer.close();
      await p.child.status;
    },
  };
}

/**
 * Latencies of `f` and of each floor's round trip, measured in alternating
 * blocks of 500 calls (after 500 warm-up calls of each), so that drift of a
 * shared machine falls on all.
 */
async function alternating(
  f: () => Promise<unknown>,
  floors: readonly (() => Promise<unknown>)[],
): Promise<{ measured: Latency; floors: Latency[] }> {
  for (let i = 0; i < 500; i++) {
    await f();
    for (const g of floors) await g();
  }
  const times: number[] = [];
  const floorTimes: number[][] = floors.map(() => []);
  for (let block = 0; block < 10; block++) {
    const runs: [() => Promise<unknown>, number[]][] = [
      [f, times],
      ...floors.map((g, i): [() => Promise<unknown>, number[]] => [g, floorTimes[i]!]),
    ];
    for (const [g, out] of runs) {
      for (let i = 0; i < 500; i++) {
        const t = performance.now();
        await g();
        out.push(performance.now() - t);
      }
    }
  }
  return { measured: latency(times), floors: floorTimes.map(latency) };
}

/** Runs the function benchmark and writes bench/results/functions.{json,md}. */
export async function functionsBench(): Promise<FunctionsBenchResult> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "functions_bench_" });
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  const runtime = new Runtime({
    node: "bench",
    names: registry,
    tiers: await openMemoryAndFile({ node: "bench", dataDir: dir, memory: 1 << 28, file: 1 << 28 }),
  });
  const store = new FunctionStore(registry.kv);
  const pool = new SandboxPool({ spares: 1 });
  const checked = new FunctionService({
    store,
    catalog: registry,
    runtime,
    pool,
    typeChecker: new TypeChecker({ dir: `${dir}/check` }),
  });
  const unchecked = new FunctionService({ store, catalog: registry, runtime, pool });
  const spareless = new SandboxPool({ spares: 0 });
  const noSpares = new FunctionService({ store, catalog: registry, runtime, pool: spareless });
  let result: FunctionsBenchResult;
  let closeBare = () => {};
  let closeProcess = () => Promise.resolve();
  try {
    const bare = await bareWorker();
    closeBare = bare.close;
    const process = await bareProcess(dir);
    closeProcess = process.close;
    await registry.createDataset({
      name: "tiny",
      description: "dataset tiny { var x [64]float64 }",
    });
    await runtime.publish({
      dataset: "tiny",
      version: 1,
      fragment: "dataset",
      bindings: {},
      bytes: new Uint8Array(Float64Array.from({ length: 64 }, (_, i) => i).buffer),
    });
    await pool.warmed();

    const deployRuns = async (svc: FunctionService, prefix: string, n: number, salt: number) => {
      const deploys: number[] = [];
      const firsts: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await svc.deploy(`${prefix}${i}`, SUM(salt + i));
        deploys.push(performance.now() - t);
        await svc.invoke(`${prefix}${i}`, { dataset: "tiny" });
        firsts.push(performance.now() - t);
        // Let the spare Worker the deploy used be replaced before the next.
        await pool.warmed();
      }
      return { deployMs: median(deploys), firstResultMs: median(firsts) };
    };
    const deployChecked = await deployRuns(checked, "checked", 3, 1000);
    const deployUnchecked = await deployRuns(unchecked, "plain", 10, 2000);

    // A version's first call with no warm Worker: evict it, then call.
    const fn = await unchecked.resolve("plain0");
    const spareTimes: number[] = [];
    const spawnTimes: number[] = [];
    for (let i = 0; i < 10; i++) {
      pool.evict(fn.module.key);
      await pool.warmed();
      let t = performance.now();
      await unchecked.invoke("plain0", { dataset: "tiny" });
      spareTimes.push(performance.now() - t);
      spareless.evict(fn.module.key);
      t = performance.now();
      await noSpares.invoke("plain0", { dataset: "tiny" });
      spawnTimes.push(performance.now() - t);
    }

    const warmInvoke = await alternating(
      () => unchecked.invoke("plain0", { dataset: "tiny" }),
      [process.trip, bare.trip],
    );
    await unchecked.deploy("small", SMALL);
    const one = [{ v: new Float32Array(16) }];
    const warmCall = await alternating(() => unchecked.callMany("small", one), [process.trip]);

    const calls = 100_000;
    const inputs = Array.from({ length: calls }, (_, i) => ({ v: new Float32Array(16).fill(i) }));
    await unchecked.callMany("small", inputs.slice(0, 10_000));
    const t = performance.now();
    const out = await unchecked.callMany("small", inputs);
    const seconds = (performance.now() - t) / 1000;
    if (out.some((r) => !r.ok)) throw new Error("A batched call failed");
    result = {
      machine: `${
        new Date().toISOString()
      }, Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${Deno.build.target}, ${navigator.hardwareConcurrency} CPUs`,
      bareWorker: { coldMs: bare.coldMs, roundTrip: warmInvoke.floors[1]! },
      bareProcess: { coldMs: process.coldMs, roundTrip: warmInvoke.floors[0]! },
      deployChecked,
      deployUnchecked,
      coldCall: { spareMs: median(spareTimes), spawnMs: median(spawnTimes) },
      warmInvoke: warmInvoke.measured,
      warmCallBare: warmCall.floors[0]!,
      warmCall: warmCall.measured,
      batched: { calls, perSecond: Math.round(calls / seconds) },
    };
  } finally {
    closeBare();
    await closeProcess();
    await pool.close();
    await spareless.close();
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
  const r = result!;
  const md = [
    "# Function benchmark",
    "",
    r.machine + ".",
    "In process (no HTTP). Functions run in sandbox processes: `deno run` with no permissions, an OS memory limit",
    "and a V8 heap limit, talking over pipes. Latencies are medians (p50) and 99th percentiles of 5000 calls after",
    "500 warm-up calls, measured in blocks of 500 alternating with as many round trips of the floors, so drift falls",
    "on all; cold figures are medians of 3 (checked deploys) or 10 runs. The floors: a bare `deno run` process with",
    "no permissions echoing 512 bytes over its standard input and output (the floor under any call to a sandbox",
    "process), and a bare permission-less Worker echoing a transferred 512-byte buffer (the floor of the earlier,",
    "in-process sandbox).",
    "",
    "| measure | value | bare process, same run | bare Worker, same run | goal |",
    "| --- | ---: | ---: | ---: | ---: |",
    `| deploy with deno check + dry run | ${r.deployChecked.deployMs} ms | | | |`,
    `| deploy with deno check, to first result | ${r.deployChecked.firstResultMs} ms | | | |`,
    `| deploy with dry run only | ${r.deployUnchecked.deployMs} ms | | | |`,
    `| deploy with dry run only, to first result (spare process ready) | ${r.deployUnchecked.firstResultMs} ms | ${r.bareProcess.coldMs} ms (spawn to first reply) | ${r.bareWorker.coldMs} ms | <= 10 ms |`,
    `| cold call (no warm process, spare ready) | ${r.coldCall.spareMs} ms | | | <= 10 ms |`,
    `| cold call (no warm process, process spawned) | ${r.coldCall.spawnMs} ms | ${r.bareProcess.coldMs} ms | | |`,
    `| warm invoke on a stored fragment, p50 / p99 | ${r.warmInvoke.p50} / ${r.warmInvoke.p99} µs | ${r.bareProcess.roundTrip.p50} / ${r.bareProcess.roundTrip.p99} µs (round trip) | ${r.bareWorker.roundTrip.p50} / ${r.bareWorker.roundTrip.p99} µs | <= 150 µs p50 |`,
    `| warm call on held arrays, p50 / p99 | ${r.warmCall.p50} / ${r.warmCall.p99} µs | ${r.warmCallBare.p50} / ${r.warmCallBare.p99} µs | | |`,
    `| batched small calls (16 float32, 512 per message, 2 processes) | ${r.batched.perSecond} calls/s | | | >= 100000 calls/s |`,
    "",
  ].join("\n");
  await writeResultFiles("functions", r, md);
  console.log(md);
  return r;
}

if (import.meta.main) await functionsBench();
