/**
 * Sandboxed transform functions and pipelines: deploy a TypeScript module as
 * an immutable version, call it on dataset fragments in a sandbox process with no
 * permissions, and run it on every commit of a dataset. See
 * docs/functions.md.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkLimits, decidePlacement } from "./mod.ts";
 * assert.equal(checkLimits({}).timeMs, 2000);
 * const d = decidePlacement({ requested: "in-transit", producers: ["a"], nodes: ["a", "b"], inputBytes: 0, version: 1 });
 * assert.equal(d.node, "b");
 * ```
 *
 * @module
 */

export * from "./api.ts";
export * from "./declaration.ts";
export * from "./fields.ts";
export * from "./limits.ts";
export * from "./pipeline_spec.ts";
export * from "./pipelines.ts";
export * from "./placement.ts";
export * from "./frames.ts";
export * from "./launcher.ts";
export * from "./pool.ts";
export * from "./sample.ts";
export * from "./sandbox.ts";
export * from "./service.ts";
export * from "./source.ts";
export * from "./store.ts";
export * from "./typecheck.ts";
