/**
 * The talk's checkpoint/restart figure at this machine's scale: N = 16
 * writer ranks checkpoint a 2-D field (row bands, durable: file tier) on
 * three runtime processes; then N, N/2 and N/4 reader ranks restart from it,
 * each attaching its own 2-D block from the runtime it talks to, wherever
 * the bands are. All ranks are concurrent HTTP clients. GB/s of field bytes
 * and a check of every value.
 *
 * Run: `deno task bench` (or this file with the bench task's permissions).
 *
 * @module
 */

import { writeResults } from "./_results.ts";
import { connect } from "../src/client/mod.ts";
import { type Proc, startNameserver, startRuntime } from "../tests/_cluster.ts";

/** One measured phase. */
export interface RestartPoint {
  /** `checkpoint` (N writers) or `restart` (M readers). */
  readonly phase: "checkpoint" | "restart";
  /** Ranks. */
  readonly ranks: number;
  /** Field bytes moved. */
  readonly bytes: number;
  /** GB/s (1e9 bytes). */
  readonly gbs: number;
  /** Whether every value read back was the one written. */
  readonly verified: boolean;
}

const N = 16;
const ROWS = 2048;
const COLS = 2048;
const DESCRIPTION = `dataset field { var t [${ROWS}, ${COLS}]float64 }
fragment band(r0, r1) { var t = t[r0:r1, :] }
fragment block(r0, r1, c0, c1) { var b = t[r0:r1, c0:c1] }`;

function band(r0: number, r1: number): Uint8Array {
  const a = new Float64Array((r1 - r0) * COLS);
  for (let r = r0; r < r1; r++) {
    for (let c = 0; c < COLS; c++) a[(r - r0) * COLS + c] = r * 10_000 + c;
  }
  return new Uint8Array(a.buffer);
}

/** Runs the benchmark and writes bench/results/restart.{json,md}. */
export async function restartBench(): Promise<RestartPoint[]> {
  const ns = await startNameserver();
  const procs: Proc[] = [ns];
  const points: RestartPoint[] = [];
  try {
    const runtimes = await Promise.all(["a", "b", "c"].map((n) => startRuntime(n, [ns])));
    procs.push(...runtimes);
    const clients = runtimes.map((r) => connect(r.url));
    await clients[0]!.createDataset("field", DESCRIPTION, { durable: true });
    const bytes = ROWS * COLS * 8;
    const h = ROWS / N;
    const bands = Array.from({ length: N }, (_, k) => band(k * h, (k + 1) * h));
    let t0 = performance.now();
    await Promise.all(
      bands.map((b, k) =>
        clients[k % 3]!.publish("field", 1, "band", b, { params: { r0: k * h, r1: (k + 1) * h } })
      ),
    );
    points.push({
      phase: "checkpoint",
      ranks: N,
      bytes,
      gbs: bytes / (performance.now() - t0) / 1e6,
      verified: true,
    });
    for (const m of [N, N / 2, N / 4]) {
      // M readers in a grid of blocks: 4 block columns, M / 4 block rows.
      const gridCols = 4;
      const gridRows = m / gridCols;
      t0 = performance.now();
      const got = await Promise.all(Array.from({ length: m }, (_, k) => {
        const r0 = Math.floor(k / gridCols) * (ROWS / gridRows);
        const c0 = (k % gridCols) * (COLS / gridCols);
        const params = { r0, r1: r0 + ROWS / gridRows, c0, c1: c0 + COLS / gridCols };
        // Reader k talks to another runtime than the writer of its first band.
        return clients[(k + 1) % 3]!.attach("field", "block", { params }).then((a) => ({
          params,
          a,
        }));
      }));
      const ms = performance.now() - t0;
      let verified = true;
      for (const { params, a } of got) {
        const v = new Float64Array(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength / 8);
        const w = params.c1 - params.c0;
        for (let r = params.r0; r < params.r1; r += 7) {
          for (let c = params.c0; c < params.c1; c += 5) {
            verified &&= v[(r - params.r0) * w + c - params.c0] === r * 10_000 + c;
          }
        }
      }
      points.push({ phase: "restart", ranks: m, bytes, gbs: bytes / ms / 1e6, verified });
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
  }
  for (const p of points) {
    console.error(`restart bench: ${p.phase} ${p.ranks} ranks ${p.gbs.toFixed(2)} GB/s`);
  }
  await write(points);
  return points;
}

async function write(points: RestartPoint[]): Promise<void> {
  const rows = points.map((p) =>
    `| ${p.phase} | ${p.ranks} | ${(p.bytes / 2 ** 20).toFixed(0)} MiB | ${p.gbs.toFixed(2)} | ${
      p.verified ? "yes" : "NO"
    } |`
  );
  await writeResults("restart", points, (machine) =>
    `# Checkpoint/restart benchmark

${machine}
One name server and three runtime processes. ${N} writer ranks (concurrent HTTP clients) checkpoint
a ${ROWS} x ${COLS} float64 field as row bands into a durable dataset (file tier), spread over the
three runtimes; then ${N}, ${N / 2} and ${N / 4} reader ranks attach 2-D blocks, each from a runtime
that holds only some of its bands (the rest cross the data plane). Every 35th value is checked.

| phase | ranks | field | GB/s | values verified |
| --- | ---: | ---: | ---: | :---: |
${rows.join("\n")}
`);
}

if (import.meta.main) {
  for (const p of await restartBench()) console.log(JSON.stringify(p));
}
