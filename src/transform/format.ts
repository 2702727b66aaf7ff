/**
 * A readable text form of a plan, for logs and debugging.
 *
 * @module
 */

import { isMemcpy, type Plan } from "./op.ts";
import { scalarName } from "./scalar.ts";

/**
 * Formats a plan: a header line, then one line per op with its source, byte
 * offsets and strides on both sides, iteration counts and scalar types.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPlan } from "./format.ts";
 * const text = formatPlan({
 *   sourceBytes: [1600],
 *   targetBytes: 800,
 *   ops: [{
 *     source: 0, srcOffset: 8, dstOffset: 0, counts: [100], srcStrides: [16], dstStrides: [8],
 *     from: "float64", to: "float32",
 *   }],
 * });
 * assert.equal(
 *   text,
 *   "Plan: 1 source (1600 bytes) -> target (800 bytes), 1 op\n" +
 *     "  #0  src 0 @8 [16] -> dst @0 [8]  x [100]  float64 -> float32",
 * );
 * ```
 */
export function formatPlan(plan: Plan): string {
  const n = plan.sourceBytes.length;
  const sizes = plan.sourceBytes.join(", ");
  const lines = [
    `Plan: ${n} source${
      n === 1 ? "" : "s"
    } (${sizes} bytes) -> target (${plan.targetBytes} bytes), ` +
    `${plan.ops.length} op${plan.ops.length === 1 ? "" : "s"}`,
  ];
  plan.ops.forEach((op, i) => {
    if (isMemcpy(op)) {
      lines.push(
        `  #${i}  memcpy src ${op.source} @${op.srcOffset} -> dst @${op.dstOffset}  ${
          op.counts[0]
        } bytes`,
      );
      return;
    }
    const from = scalarName(op.from);
    const to = scalarName(op.to);
    const types = op.from === "uint8" && op.to === "uint8"
      ? "bytes"
      : from === to
      ? from
      : `${from} -> ${to}`;
    lines.push(
      `  #${i}  src ${op.source} @${op.srcOffset} [${op.srcStrides.join(", ")}] -> ` +
        `dst @${op.dstOffset} [${op.dstStrides.join(", ")}]  x [${op.counts.join(", ")}]  ${types}`,
    );
  });
  return lines.join("\n");
}
