/**
 * FlameStore on the service kit: a store of deep-learning models (an
 * architecture registered once, weights saved and loaded whole, checked
 * against its signature), with a TypeScript client that TensorFlow.js
 * saves into and loads from. See docs/services.md.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flamestore, signatureOf } from "./mod.ts";
 * assert.equal(flamestore.name, "flamestore");
 * assert.equal(signatureOf([]).length, 16);
 * ```
 *
 * @module
 */

export * from "./client.ts";
export * from "./model.ts";
export * from "./service.ts";
