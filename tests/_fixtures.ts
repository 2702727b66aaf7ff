/**
 * Fixtures the tests share: a scratch directory, and the particles dataset
 * most data path tests publish and attach.
 *
 * @module
 */

/**
 * Runs `fn` with a fresh directory under `tmp/`, removed afterwards whatever
 * `fn` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withDir } from "./_fixtures.ts";
 * const seen = await withDir(async (dir) => {
 *   await Deno.writeTextFile(`${dir}/a.txt`, "a");
 *   return dir;
 * });
 * await assert.rejects(() => Deno.stat(seen), Deno.errors.NotFound);
 * ```
 */
export async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The `xyz(lo, hi)` fragment of the particles dataset: the positions of
 * particles `lo` to `hi` as three float32 columns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { XYZ } from "./_fixtures.ts";
 * assert.ok(XYZ.startsWith("fragment xyz(lo, hi) columnar"));
 * ```
 */
export const XYZ =
  "fragment xyz(lo, hi) columnar { var p { x float32, y float32, z float32 } = p[lo:hi] }";

/**
 * The particles dataset: `count` particles `{ x, y, z float64; id int64 }`
 * (32 bytes each, default 1000), published by ranks as `part(lo, hi)`, an
 * array of structs, with further `fragments` after it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout } from "../src/ddl/mod.ts";
 * import { particlesDescription, XYZ } from "./_fixtures.ts";
 * const ds = compileDescription(particlesDescription({ count: 4096, fragments: [XYZ] }));
 * assert.equal(datasetLayout(ds).byteLength, 4096 * 32);
 * ```
 */
export function particlesDescription(
  options: { readonly count?: number; readonly fragments?: readonly string[] } = {},
): string {
  return [
    "dataset particles {",
    "  type P struct { x, y, z float64; id int64 }",
    `  var p [${options.count ?? 1000}]P`,
    "}",
    "fragment part(lo, hi) { var p = p[lo:hi] }",
    ...options.fragments ?? [],
  ].join("\n");
}

/**
 * A seeded generator of floats in [0, 1) (mulberry32), so a failing
 * randomised test replays the same inputs: the one the transform tests use.
 */
export { mulberry32 } from "../src/transform/_testing.ts";

/** Values a fuzzed field is replaced with, of every JSON and msgpack kind: each fuzz adds its own. */
export const ODD_VALUES: readonly unknown[] = [null, true, 0, -1, 1.5, 2 ** 53, 1e308, "", "x"];
