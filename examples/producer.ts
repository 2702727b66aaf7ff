/**
 * A producer: a toy particle simulation of four ranks, each publishing its
 * block of the particles, as an array of structs, once per step. A version
 * commits itself once the four blocks cover the dataset.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-env=STRATA_URL examples/producer.ts [steps] [url]
 * ```
 *
 * The server is `url`, else `$STRATA_URL`, else http://127.0.0.1:7070.
 *
 * @module
 */

import { connect, ServerError } from "../src/client/mod.ts";

const N = 100_000;
const RANKS = 4;
/** Bytes of one particle: x, y, z float64; ux, uy, uz, w float32; id int64. */
const SIZE = 48;
const steps = Number(Deno.args[0] ?? 5);
const strata = connect(Deno.args[1] ?? envUrl() ?? "http://127.0.0.1:7070");

// `ranks(lo, hi)` is what each rank publishes; functions that take
// `(lo, hi)` (functions/histogram.ts) run once per rank's block.
const description = `
dataset particles {
  const N = ${N}
  type Particle struct { x, y, z float64; ux, uy, uz, w float32; id int64 }
  var p [N]Particle
}
fragment ranks(lo, hi) { var p = p[lo:hi] }
fragment xyz columnar { var p { x float32, y float32, z float32 } = p }
`;

try {
  await strata.createDataset("particles", description, { retention: 3 });
} catch (e) {
  if (!(e instanceof ServerError && e.code === "conflict")) throw e;
}

const buffer = new ArrayBuffer(N * SIZE);
const f64 = new Float64Array(buffer);
const f32 = new Float32Array(buffer);
const ids = new BigInt64Array(buffer);
for (let i = 0; i < N; i++) {
  f64.set([Math.random(), Math.random(), Math.random()], i * 6);
  f32.set([Math.random() - 0.5, Math.random() - 0.5, Math.random() - 0.5, 1], i * 12 + 6);
  ids[i * 6 + 5] = BigInt(i);
}
const bytes = new Uint8Array(buffer);

const first = ((await strata.versions("particles")).at(-1)?.version as number | undefined) ?? 0;
for (let step = 1; step <= steps; step++) {
  for (let i = 0; i < N; i++) {
    for (let d = 0; d < 3; d++) {
      f64[i * 6 + d] = f64[i * 6 + d]! + 0.01 * f32[i * 12 + 6 + d]!;
      f32[i * 12 + 6 + d] = f32[i * 12 + 6 + d]! * 1.05;
    }
  }
  const version = first + step;
  let committed = false;
  for (let r = 0; r < RANKS; r++) {
    const lo = (r * N) / RANKS;
    const hi = ((r + 1) * N) / RANKS;
    const block = bytes.subarray(lo * SIZE, hi * SIZE);
    ({ committed } = await strata.publish("particles", version, "ranks", block, {
      params: { lo, hi },
    }));
  }
  console.log(
    `step ${step}: published version ${version} (${RANKS} ranks, ${bytes.byteLength} bytes), committed: ${committed}`,
  );
}

/** `STRATA_URL`, when set and readable (`--allow-env=STRATA_URL`). */
function envUrl(): string | undefined {
  const env = Deno.permissions.querySync({ name: "env", variable: "STRATA_URL" });
  return env.state === "granted" ? Deno.env.get("STRATA_URL") || undefined : undefined;
}
