/**
 * Downsample of a 2-D field: each 2 x 2 block of `temp [256, 256]float64`
 * averaged into one value of a 128 x 128 field. Runs per published block of
 * rows (`r0, r1`, even), and publishes the matching rows of the derived
 * dataset at the same version.
 */
import type { FunctionContext } from "strata/function";

export const input = `
dataset { var temp [256, 256]float64 }
fragment rows(r0, r1) { var t = temp[r0:r1, :] }`;

export const output = {
  description: `dataset { var temp [128, 128]float64 }
fragment rows(r0, r1) { var t = temp[r0 / 2:r1 / 2, :] }`,
  fragment: "rows",
};

export const sample = { r0: 0, r1: 4 };

export function run(input: { t: Float64Array }, ctx: FunctionContext): { t: Float64Array } {
  const [rows, cols] = ctx.shapes.t as [number, number];
  if (rows % 2 !== 0 || cols % 2 !== 0) {
    throw new RangeError(`Expected an even number of rows and columns, found ${rows} x ${cols}`);
  }
  const src = input.t;
  const out = new Float64Array((rows / 2) * (cols / 2));
  const half = cols / 2;
  for (let r = 0; r < rows; r += 2) {
    const a = r * cols;
    const b = a + cols;
    const o = (r / 2) * half;
    for (let c = 0; c < cols; c += 2) {
      out[o + c / 2] = (src[a + c]! + src[a + c + 1]! + src[b + c]! + src[b + c + 1]!) / 4;
    }
  }
  return { t: out };
}
