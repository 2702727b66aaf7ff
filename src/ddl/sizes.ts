/**
 * Size variables read from published bytes: a dataset whose arrays are sized
 * by an integer variable (`var sz int32`, `var c [sz]float32`) takes each
 * size from the value published in that variable.
 *
 * @module
 */

import { LayoutError } from "../errors.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import type { Dataset, Variable } from "./check.ts";
import { type Bindings, datasetLayout, fragmentLayout, layoutPrefix } from "./layout.ts";

/**
 * The size variables of the layout of `bytes` (the whole dataset, or fragment
 * `options.fragment`), read from the bytes themselves: each size variable
 * must be stored in it, as a whole variable placed before every variable it
 * sizes. A size given in `options.bindings` must agree with the bytes.
 * Throws `LayoutError` for a size that is not stored (nor bound), is not a
 * positive integer, disagrees with a bound one, or gives a layout whose size
 * is not the bytes' size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, publishedSizes } from "./mod.ts";
 * const ds = compileDescription("dataset { var sz int32\n var c [sz]float32 }");
 * const bytes = new Uint8Array(4 + 3 * 4);
 * new DataView(bytes.buffer).setInt32(0, 3, true);
 * assert.deepEqual(publishedSizes(ds, bytes), { sz: 3 });
 * assert.throws(() => publishedSizes(ds, bytes.subarray(0, 12)), /expected 16 bytes \(sz = 3\), received 12/);
 * ```
 */
export function publishedSizes(
  ds: Dataset,
  bytes: Uint8Array,
  options: {
    readonly fragment?: string;
    readonly bindings?: Bindings;
    /** Where bound sizes come from, for messages (default `this dataset`). */
    readonly sizesOf?: string;
  } = {},
): Record<string, number> {
  const given = options.bindings ?? {};
  const what = options.fragment === undefined ? "the dataset" : `fragment '${options.fragment}'`;
  const stored = storedVariables(ds, options.fragment);
  const sizes: Record<string, number> = {};
  for (const [index, v] of stored.entries()) {
    for (const d of v.dims) {
      if (typeof d === "number" || d.sizeVar in sizes) continue;
      const at = stored.findIndex((s) => s.name === d.sizeVar && s.dims.length === 0);
      if (at < 0 || at > index) {
        if (given[d.sizeVar] !== undefined) continue;
        throw new LayoutError(
          `Size of '${v.name}' depends on variable '${d.sizeVar}', which is not bound and not published before it in ${what}`,
        );
      }
      const prefix = layoutPrefix(ds, { ...options, bindings: given, count: at + 1 });
      const value = readInteger(prefix, at, bytes, d.sizeVar);
      const bound = given[d.sizeVar];
      if (bound !== undefined && bound !== value) {
        throw new LayoutError(
          `Size variable '${d.sizeVar}' is ${bound} in ${
            options.sizesOf ?? "this dataset"
          }, but the published bytes hold ${value}`,
        );
      }
      sizes[d.sizeVar] = value;
    }
  }
  const bindings = { ...given, ...sizes };
  const layout = options.fragment === undefined
    ? datasetLayout(ds, bindings)
    : fragmentLayout(ds, options.fragment, bindings);
  if (layout.byteLength !== bytes.byteLength) {
    const shown = Object.entries(sizes).map(([k, n]) => `${k} = ${n}`).join(", ");
    throw new LayoutError(
      `Cannot publish ${what}: expected ${layout.byteLength} bytes${
        shown === "" ? "" : ` (${shown})`
      }, received ${bytes.byteLength}`,
    );
  }
  return sizes;
}

/**
 * The size variables a layout depends on: those sizing a variable that the
 * whole dataset (no `fragment`) or fragment `fragment` stores. An unknown
 * fragment depends on none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, layoutSizeVariables } from "./mod.ts";
 * const ds = compileDescription(`dataset { var sz int64\n var a [sz]float32\n var t [4]float64 }
 * fragment temps { var t = t }
 * fragment head(n) { var a = a[0:n] }`);
 * assert.deepEqual(layoutSizeVariables(ds), ["sz"]);
 * assert.deepEqual(layoutSizeVariables(ds, "temps"), []);
 * assert.deepEqual(layoutSizeVariables(ds, "head"), ["sz"]);
 * ```
 */
export function layoutSizeVariables(ds: Dataset, fragment?: string): string[] {
  const vars = fragment === undefined
    ? [...ds.variables.values()]
    : (ds.fragments.get(fragment)?.vars ?? []).map((v) => v.variable);
  const out = new Set<string>();
  for (const v of vars) for (const d of v.dims) if (typeof d !== "number") out.add(d.sizeVar);
  return [...out];
}

/**
 * The size variables a producer can publish: those that the whole dataset,
 * or a fragment that is not read-only, stores as a whole variable before
 * every variable of it they size, so `publishedSizes()` reads them from its
 * bytes. A size variable not among them must be given when the dataset is
 * created.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, publishableSizes } from "./mod.ts";
 * const drepl = compileDescription("dataset { var sz int64\n var a [sz]float32 }");
 * assert.deepEqual([...publishableSizes(drepl)], ["sz"]);
 * const late = compileDescription("dataset { var a [sz]float32\n var sz int64 }");
 * assert.deepEqual([...publishableSizes(late)], []);
 * ```
 */
export function publishableSizes(ds: Dataset): Set<string> {
  const out = new Set<string>();
  const layouts: (string | undefined)[] = [undefined];
  for (const [name, f] of ds.fragments) if (!f.decl.readOnly) layouts.push(name);
  for (const fragment of layouts) {
    const stored = storedVariables(ds, fragment);
    for (const sizeVar of layoutSizeVariables(ds, fragment)) {
      const at = stored.findIndex((s) => s.name === sizeVar && s.dims.length === 0);
      const first = stored.findIndex((s) =>
        s.dims.some((d) => typeof d !== "number" && d.sizeVar === sizeVar)
      );
      if (at >= 0 && at < first) out.add(sizeVar);
    }
  }
  return out;
}

/** The dataset variables a layout stores, in buffer order (one per slot). */
function storedVariables(ds: Dataset, fragment: string | undefined): Variable[] {
  if (fragment === undefined) return [...ds.variables.values()];
  const f = ds.fragments.get(fragment);
  if (f === undefined) return [];
  // A size is read only from a fragment variable storing the whole scalar.
  return f.vars.map((v) =>
    v.decl.indices === undefined && v.leaves.length === 1 && v.leaves[0]!.path === ""
      ? v.variable
      : { ...v.variable, name: "" }
  );
}

function readInteger(
  layout: FragmentLayout,
  slot: number,
  bytes: Uint8Array,
  name: string,
): number {
  const field = layout.slots[slot]?.fields[0];
  const type = field?.type;
  const size = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8 };
  if (field === undefined || typeof type !== "string" || !(type in size)) {
    throw new LayoutError(`Size variable '${name}' must be stored as an integer`);
  }
  const width = size[type as keyof typeof size];
  if (field.offset + width > bytes.byteLength) {
    throw new LayoutError(
      `Cannot read size variable '${name}': expected at least ${
        field.offset + width
      } bytes, received ${bytes.byteLength}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + field.offset, width);
  const value = {
    int8: () => view.getInt8(0),
    uint8: () => view.getUint8(0),
    int16: () => view.getInt16(0, true),
    uint16: () => view.getUint16(0, true),
    int32: () => view.getInt32(0, true),
    uint32: () => view.getUint32(0, true),
    int64: () => Number(view.getBigInt64(0, true)),
    uint64: () => Number(view.getBigUint64(0, true)),
  }[type as keyof typeof size]();
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new LayoutError(`Size variable '${name}' must be a positive integer, found ${value}`);
  }
  return value;
}
