/**
 * The talk's VPIC figure at this machine's scale: a particle-in-cell
 * producer pushes 2^20 particles (VPIC's 32-byte particle: position, momentum
 * u, weight, id) every step and publishes them as 4 rank fragments, while a
 * pipeline computes the energy histogram (functions/histogram.ts, per
 * fragment, merged) in transit. Two deployments: one `strata serve` (the run
 * shares the producer's runtime process), and a name server with two
 * runtimes, `sim` taking the producer's data and `analysis` running the
 * pipeline, which reads the fragments over the data plane. The producer's
 * step time (push + publish) with the pipeline is compared with its step
 * time without it, in alternating blocks of steps so drift on a shared
 * machine falls on both; every version's histogram is checked.
 *
 * Run: `deno task bench`, or this file with the bench task's permissions.
 *
 * @module
 */

import { connect } from "../src/client/mod.ts";
import { startNameserver, startRuntime } from "../tests/_cluster.ts";
import { startServer } from "../tests/_server.ts";
import { writeResults } from "./_results.ts";

/** Where the pipeline runs: in the producer's `strata serve`, or on another runtime. */
export type VpicDeployment = "one process" | "two runtimes";

/** What one configuration measured. */
export interface VpicPoint {
  /** The processes. */
  readonly deployment: VpicDeployment;
  /** The node the pipeline's runs ran on. */
  readonly ranOn: string;
  /** Particle pushes per step (more: a step dominated by compute rather than publishing). */
  readonly pushesPerStep: number;
  /** Median step time without the pipeline (ms). */
  readonly withoutMs: number;
  /** Median step time with the pipeline (ms). */
  readonly withMs: number;
  /** Median time of the push alone (ms), for scale. */
  readonly pushMs: number;
  /** (with - without) / without, percent. */
  readonly overheadPercent: number;
  /** Versions the pipeline ran on, and how many succeeded with a full histogram. */
  readonly pipelineRuns: { readonly versions: number; readonly succeeded: number };
  /** Median time from a version's commit to its histogram (ms). */
  readonly commitToResultMs: number;
}

const N = 1 << 20;
const RANKS = 4;
const STEPS = 8;
const BLOCKS = 6;

const DESCRIPTION = `dataset particles {
  type Particle struct { x, y, z float32; ux, uy, uz float32; w float32; id int32 }
  const N = ${N}
  var p [N]Particle
}
fragment ranks(lo, hi) { var p = p[lo:hi] }`;

/** VPIC-like particles: 8 float32 slots (id stored as int32), momenta spread over a few m c. */
function initParticles(): Float32Array {
  const f = new Float32Array(N * 8);
  const ids = new Int32Array(f.buffer);
  let s = 12345;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < N; i++) {
    f[i * 8] = rnd();
    f[i * 8 + 1] = rnd();
    f[i * 8 + 2] = rnd();
    f[i * 8 + 3] = (rnd() - 0.5) * 4;
    f[i * 8 + 4] = (rnd() - 0.5) * 4;
    f[i * 8 + 5] = (rnd() - 0.5) * 4;
    f[i * 8 + 6] = 1;
    ids[i * 8 + 7] = i;
  }
  return f;
}

/**
 * One relativistic push in a uniform field with a rotation (a Boris-like
 * step): u gains q E dt, rotates about z, positions advance by v dt and wrap.
 */
function push(f: Float32Array, step: number): void {
  const dt = 0.01;
  const e = 0.05 * Math.sin(step / 7);
  const c = Math.cos(0.02);
  const sn = Math.sin(0.02);
  for (let i = 0; i < N; i++) {
    const o = i * 8;
    let ux = f[o + 3]! + e * dt;
    let uy = f[o + 4]!;
    const uz = f[o + 5]!;
    const rx = ux * c - uy * sn;
    uy = ux * sn + uy * c;
    ux = rx;
    const g = 1 / Math.sqrt(1 + ux * ux + uy * uy + uz * uz);
    let x = f[o]! + ux * g * dt;
    let y = f[o + 1]! + uy * g * dt;
    let z = f[o + 2]! + uz * g * dt;
    x -= Math.floor(x);
    y -= Math.floor(y);
    z -= Math.floor(z);
    f[o] = x;
    f[o + 1] = y;
    f[o + 2] = z;
    f[o + 3] = ux;
    f[o + 4] = uy;
  }
}

interface Deployed {
  /** Where the producer publishes (and the pipeline is managed). */
  readonly url: string;
  stop(): Promise<void>;
}

async function deploy(deployment: VpicDeployment): Promise<Deployed> {
  if (deployment === "one process") {
    const server = await startServer();
    return {
      url: server.url,
      stop: async () => {
        await server.stop();
        await Deno.remove(server.dataDir, { recursive: true });
      },
    };
  }
  const ns = await startNameserver();
  const analysis = await startRuntime("analysis", [ns]);
  const sim = await startRuntime("sim", [ns]);
  return {
    url: sim.url,
    stop: async () => {
      for (const p of [sim, analysis, ns]) {
        await p.stop();
        await Deno.remove(p.dataDir, { recursive: true });
      }
    },
  };
}

/** Runs one configuration against fresh processes. */
async function runPoint(deployment: VpicDeployment, pushesPerStep: number): Promise<VpicPoint> {
  const server = await deploy(deployment);
  const strata = connect(server.url);
  const without: number[] = [];
  const withPipeline: number[] = [];
  const pushes: number[] = [];
  const committedAt = new Map<number, number>();
  const onVersions: number[] = [];
  try {
    await strata.createDataset("particles", DESCRIPTION, { retention: 12 });
    await strata.functions.deploy("histogram", await Deno.readTextFile("functions/histogram.ts"));
    const particles = initParticles();
    const bytes = new Uint8Array(particles.buffer);
    const per = N / RANKS;
    let version = 0;
    const step = async (times: number[]) => {
      const t = performance.now();
      for (let k = 0; k < pushesPerStep; k++) push(particles, version * pushesPerStep + k);
      pushes.push(performance.now() - t);
      version++;
      await Promise.all(Array.from({ length: RANKS }, (_, r) =>
        strata.publish(
          "particles",
          version,
          "ranks",
          bytes.subarray(r * per * 32, (r + 1) * per * 32),
          { params: { lo: r * per, hi: (r + 1) * per } },
        )));
      committedAt.set(version, Date.now());
      times.push(performance.now() - t);
    };
    // Warm-up: the server's paths and the producer's loop.
    for (let i = 0; i < 3; i++) await step([]);
    for (let b = 0; b < BLOCKS; b++) {
      for (let i = 0; i < STEPS; i++) await step(without);
      await strata.functions.putPipeline("energy", {
        source: "particles",
        function: "histogram",
        placement: "in-transit",
        args: { bins: 64, max: 8 },
        queue: 64,
        keep: 256,
      });
      for (let i = 0; i < STEPS; i++) {
        await step(withPipeline);
        onVersions.push(version);
      }
      // The pipeline finishes its queue before the next block without it.
      for (let i = 0; i < 3000; i++) {
        const p = await strata.functions.pipeline("energy");
        if (p.running === null && (p.queued as number[]).length === 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      if (b < BLOCKS - 1) await strata.functions.deletePipeline("energy");
    }
    const runs = (await strata.functions.pipeline("energy")).runs as {
      version: number;
      state: string;
      finishedAt?: number;
      placement?: { ranOn: string };
    }[];
    // Runs of earlier blocks went with their pipeline; check the last block's.
    const last = onVersions.slice(-STEPS);
    let succeeded = 0;
    const latencies: number[] = [];
    for (const v of last) {
      const run = runs.find((r) => r.version === v);
      if (run?.state !== "succeeded") continue;
      const r = await strata.functions.result("energy", v);
      if ((r.value as { total: number }).total === N) succeeded++;
      latencies.push(run.finishedAt! - committedAt.get(v)!);
    }
    const withoutMs = median(without);
    const withMs = median(withPipeline);
    return {
      deployment,
      ranOn: [...new Set(runs.map((r) => r.placement?.ranOn ?? "?"))].join(", "),
      pushesPerStep,
      withoutMs,
      withMs,
      pushMs: median(pushes),
      overheadPercent: Math.round((withMs - withoutMs) / withoutMs * 1000) / 10,
      pipelineRuns: { versions: last.length, succeeded },
      commitToResultMs: median(latencies),
    };
  } finally {
    await server.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]! * 100) / 100;
}

/** Runs the VPIC benchmark and writes bench/results/vpic.{json,md}. */
export async function vpicBench(): Promise<VpicPoint[]> {
  const points: VpicPoint[] = [];
  for (const deployment of ["one process", "two runtimes"] as const) {
    for (const pushesPerStep of [1, 4]) points.push(await runPoint(deployment, pushesPerStep));
  }
  let text = "";
  await writeResults("vpic", points, (machine) =>
    text = [
      "# VPIC benchmark: in-transit energy histogram",
      "",
      machine,
      `A producer pushes ${N} particles (32 bytes each) per step and publishes them as ${RANKS} rank`,
      "fragments over loopback HTTP; the pipeline runs functions/histogram.ts on each fragment of every",
      `committed version and merges the histograms. ${BLOCKS} blocks of ${STEPS} steps without the pipeline`,
      "alternate with as many with it; medians of the producer's step time (push + publish). With one",
      "push per step, publishing 32 MiB dominates the step; with four, the push does, as in VPIC.",
      "`one process`: the producer publishes into one `strata serve`, which also runs the pipeline.",
      "`two runtimes`: a name server and two runtimes; the producer publishes into `sim`, the pipeline",
      "runs in transit on `analysis`, which reads the fragments from `sim` over the data plane.",
      "",
      "| deployment | pushes per step | push | step without pipeline | step with pipeline | overhead (goal <= 5%) | ran on | versions histogrammed | commit to histogram |",
      "| :--- | ---: | ---: | ---: | ---: | ---: | :--- | ---: | ---: |",
      ...points.map((p) =>
        `| ${p.deployment} | ${p.pushesPerStep} | ${p.pushMs} ms | ${p.withoutMs} ms | ${p.withMs} ms | ${p.overheadPercent}% | ${p.ranOn} | ${p.pipelineRuns.succeeded} of ${p.pipelineRuns.versions} | ${p.commitToResultMs} ms |`
      ),
      "",
    ].join("\n"));
  console.log(text);
  return points;
}

if (import.meta.main) await vpicBench();
