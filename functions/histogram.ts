/**
 * Energy histogram of particles: the kinetic energy of each particle
 * (gamma - 1, in units of m c^2, from its momentum per unit mass u), counted
 * into `bins` equal bins over [0, max). Runs once per published fragment of
 * a version (its `lo, hi` parameters bound from the fragment's), and the
 * per-fragment histograms merge into one.
 *
 * Arguments: `{ bins?: number, max?: number }` (default 64 bins up to 8).
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

/** Counts per bin, and the particles at or past `max`. */
export interface Histogram {
  readonly bins: number;
  readonly max: number;
  readonly counts: number[];
  readonly above: number;
  readonly total: number;
}

export function run(
  input: { "u.ux": Float32Array; "u.uy": Float32Array; "u.uz": Float32Array },
  ctx: FunctionContext,
): Histogram {
  const { bins = 64, max = 8 } = (ctx.args ?? {}) as { bins?: number; max?: number };
  const ux = input["u.ux"];
  const uy = input["u.uy"];
  const uz = input["u.uz"];
  const counts = new Uint32Array(bins);
  const scale = bins / max;
  let above = 0;
  for (let i = 0; i < ux.length; i++) {
    const e = Math.sqrt(1 + ux[i]! * ux[i]! + uy[i]! * uy[i]! + uz[i]! * uz[i]!) - 1;
    const b = Math.floor(e * scale);
    if (b >= bins) above++;
    else counts[b]!++;
  }
  return { bins, max, counts: Array.from(counts), above, total: ux.length };
}

export function merge(a: Histogram, b: Histogram): Histogram {
  if (a.bins !== b.bins || a.max !== b.max) {
    throw new RangeError(`Cannot merge histograms of ${a.bins} and ${b.bins} bins`);
  }
  return {
    bins: a.bins,
    max: a.max,
    counts: a.counts.map((c, i) => c + b.counts[i]!),
    above: a.above + b.above,
    total: a.total + b.total,
  };
}
