/**
 * Particle selection: the ids of the particles whose energy (gamma - 1) is
 * above a threshold, per fragment, merged. At most `limit` ids are kept;
 * `count` is exact.
 *
 * Arguments: `{ threshold?: number, limit?: number }` (default 1 and 1000).
 */
import type { FunctionContext } from "strata/function";

export const input = `
dataset {
  type Particle struct { ux, uy, uz float32; id int32 }
  var n int64
  var p [n]Particle
}
fragment momenta(lo, hi) columnar { var q { id, ux, uy, uz } = p[lo:hi] }`;

export const output = "value";

export const sample = { n: 64, lo: 0, hi: 64 };

/** The selected particles. */
export interface Selection {
  readonly threshold: number;
  readonly limit: number;
  readonly count: number;
  readonly ids: number[];
}

export function run(
  input: { "q.id": Int32Array; "q.ux": Float32Array; "q.uy": Float32Array; "q.uz": Float32Array },
  ctx: FunctionContext,
): Selection {
  const { threshold = 1, limit = 1000 } = (ctx.args ?? {}) as {
    threshold?: number;
    limit?: number;
  };
  const id = input["q.id"];
  const ux = input["q.ux"];
  const uy = input["q.uy"];
  const uz = input["q.uz"];
  const ids: number[] = [];
  let count = 0;
  for (let i = 0; i < id.length; i++) {
    const e = Math.sqrt(1 + ux[i]! * ux[i]! + uy[i]! * uy[i]! + uz[i]! * uz[i]!) - 1;
    if (e > threshold) {
      count++;
      if (ids.length < limit) ids.push(id[i]!);
    }
  }
  return { threshold, limit, count, ids };
}

export function merge(a: Selection, b: Selection): Selection {
  return { ...a, count: a.count + b.count, ids: [...a.ids, ...b.ids].slice(0, a.limit) };
}
