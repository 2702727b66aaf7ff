/**
 * Human-readable tables of layouts, for `strata check`.
 *
 * @module
 */

import type { FragmentLayout } from "../transform/layout.ts";
import { scalarName } from "../transform/scalar.ts";

/**
 * Formats a layout: one line per stored field with its variable region, byte
 * offset and strides.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatLayout } from "./format_layout.ts";
 * const text = formatLayout("p", {
 *   byteLength: 16,
 *   slots: [{ name: "p", variable: "p", origin: [0], axes: [{ dim: 0, step: 1, count: 2 }],
 *     fields: [{ path: "x", type: "float64", count: 1, offset: 0, strides: [8] }] }],
 * });
 * assert.equal(text, "p: 16 bytes\n  p.x  float64  p[0:2]  offset 0  strides [8]");
 * ```
 */
export function formatLayout(title: string, layout: FragmentLayout): string {
  const lines = [`${title}: ${layout.byteLength} bytes`];
  for (const s of layout.slots) {
    const region = s.origin.map((o, d) => {
      const k = s.axes.findIndex((a) => a.dim === d);
      const a = s.axes[k];
      if (a === undefined) return String(o);
      const end = o + a.step * (a.count - 1) + 1;
      return a.step === 1 ? `${o}:${end}` : `${o}:${end}:${a.step}`;
    });
    const where = region.length === 0 ? s.variable : `${s.variable}[${region.join(", ")}]`;
    for (const f of s.fields) {
      const type = scalarName(f.type) + (f.count > 1 ? `x${f.count}` : "");
      const name = f.path === "" ? s.name : `${s.name}.${f.path}`;
      lines.push(
        `  ${name}  ${type}  ${where}  offset ${f.offset}  strides [${f.strides.join(", ")}]`,
      );
    }
  }
  return lines.join("\n");
}
