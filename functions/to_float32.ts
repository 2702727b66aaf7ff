/**
 * float64 -> float32: each published block of rows of `temp [256, 256]float64`
 * rounded to float32 and published into the derived dataset at the same
 * version and rows. (A consumer that only reads could ask the data language
 * for `var t float32 = temp` instead; this keeps a float32 copy as a dataset.)
 */
import type { FunctionContext } from "strata/function";

export const input = `
dataset { var temp [256, 256]float64 }
fragment rows(r0, r1) { var t = temp[r0:r1, :] }`;

export const output = {
  description: `dataset { var temp [256, 256]float32 }
fragment rows(r0, r1) { var t = temp[r0:r1, :] }`,
  fragment: "rows",
};

export const sample = { r0: 0, r1: 4 };

export function run(input: { t: Float64Array }, _ctx: FunctionContext): { t: Float32Array } {
  return { t: Float32Array.from(input.t) };
}
