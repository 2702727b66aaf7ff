/**
 * Minimum, maximum, mean and standard deviation of particle energies
 * (gamma - 1 from the momentum per unit mass u), per fragment, merged with
 * Chan's parallel formula so the result does not depend on how the version
 * was split into fragments.
 */
import type { FunctionContext } from "strata/function";

export const input = `
dataset {
  type Particle struct { ux, uy, uz float32 }
  var n int64
  var p [n]Particle
}
fragment momenta(lo, hi) columnar { var u { ux, uy, uz } = p[lo:hi] }`;

export const output = "value";

export const sample = { n: 64, lo: 0, hi: 64 };

/** Running statistics: `m2` is the sum of squared deviations from the mean. */
export interface Stats {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly m2: number;
  readonly std: number;
}

export function run(
  input: { "u.ux": Float32Array; "u.uy": Float32Array; "u.uz": Float32Array },
  _ctx: FunctionContext,
): Stats {
  const ux = input["u.ux"];
  const uy = input["u.uy"];
  const uz = input["u.uz"];
  let count = 0;
  let mean = 0;
  let m2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < ux.length; i++) {
    const e = Math.sqrt(1 + ux[i]! * ux[i]! + uy[i]! * uy[i]! + uz[i]! * uz[i]!) - 1;
    count++;
    const d = e - mean;
    mean += d / count;
    m2 += d * (e - mean);
    if (e < min) min = e;
    if (e > max) max = e;
  }
  return finish({ count, min, max, mean, m2 });
}

export function merge(a: Stats, b: Stats): Stats {
  if (a.count === 0) return b;
  if (b.count === 0) return a;
  const count = a.count + b.count;
  const d = b.mean - a.mean;
  return finish({
    count,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    mean: a.mean + d * b.count / count,
    m2: a.m2 + b.m2 + d * d * a.count * b.count / count,
  });
}

function finish(s: Omit<Stats, "std">): Stats {
  return { ...s, std: s.count === 0 ? 0 : Math.sqrt(s.m2 / s.count) };
}
