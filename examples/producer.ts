/**
 * A producer: a toy particle simulation that publishes its particles, as an
 * array of structs, once per step.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 examples/producer.ts [steps] [url]
 * ```
 *
 * @module
 */

import { connect, ServerError } from "../src/client/mod.ts";

const N = 100_000;
const steps = Number(Deno.args[0] ?? 5);
const strata = connect(Deno.args[1] ?? "http://127.0.0.1:7070");

const description = `
dataset particles {
  const N = ${N}
  type Particle struct { x, y, z float64; vx, vy, vz float64; energy float64; id int64 }
  var p [N]Particle
}
fragment xyz columnar { var p { x float32, y float32, z float32 } = p }
fragment energy columnar { var p { id, energy } = p }
`;

try {
  await strata.createDataset("particles", description, { retention: 3 });
} catch (e) {
  if (!(e instanceof ServerError && e.code === "conflict")) throw e;
}

// One particle is 8 float64-sized fields: x y z vx vy vz energy id.
const state = new Float64Array(N * 8);
const ids = new BigInt64Array(state.buffer);
for (let i = 0; i < N; i++) {
  state.set([Math.random(), Math.random(), Math.random(), 0.01, -0.02, 0.005, 0, 0], i * 8);
  ids[i * 8 + 7] = BigInt(i);
}

const first = ((await strata.versions("particles")).at(-1)?.version as number | undefined) ?? 0;
for (let step = 1; step <= steps; step++) {
  for (let i = 0; i < N; i++) {
    const o = i * 8;
    for (let d = 0; d < 3; d++) state[o + d] = state[o + d]! + state[o + 3 + d]!;
    state[o + 6] = 0.5 * (state[o + 3]! ** 2 + state[o + 4]! ** 2 + state[o + 5]! ** 2) * step;
  }
  const version = first + step;
  const { committed } = await strata.publish("particles", version, "dataset", state);
  console.log(
    `step ${step}: published version ${version} (${state.byteLength} bytes), committed: ${committed}`,
  );
}
