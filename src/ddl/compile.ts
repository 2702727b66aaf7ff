/**
 * One call from description text to a checked dataset.
 *
 * @module
 */

import { DescriptionError } from "../errors.ts";
import { checkDescription, type Dataset } from "./check.ts";
import { fragmentLayout, LocatedLayoutError } from "./layout.ts";
import { parseDescription } from "./parser.ts";

/**
 * Parses and checks a description. Fragments whose regions are fixed (no
 * parameters, no size variables) are laid out once here, so a slice outside
 * its variable is reported with its line and column.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription } from "./compile.ts";
 * const ds = compileDescription("dataset particles { var p [10]struct { x, y float32 } }");
 * assert.ok(ds.description.name === "particles");
 * ```
 */
export function compileDescription(source: string): Dataset {
  const ds = checkDescription(parseDescription(source), source);
  const lines = source.split("\n");
  for (const [name, f] of ds.fragments) {
    if (f.decl.params.length > 0) continue;
    if (f.vars.some((v) => v.variable.dims.some((d) => typeof d !== "number"))) continue;
    try {
      fragmentLayout(ds, name);
    } catch (e) {
      if (e instanceof LocatedLayoutError && e.pos !== undefined) {
        throw new DescriptionError(e.message, e.pos, lines[e.pos.line - 1] ?? "");
      }
      throw e;
    }
  }
  return ds;
}
