/**
 * Mobject on the service kit: a RADOS-like object store (write and read op
 * lists on objects in pools, bytes and an omap per object), op lists
 * applied all or nothing, each object linearizable. See docs/services.md.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mobject, WriteOpList } from "./mod.ts";
 * assert.equal(mobject.name, "mobject");
 * assert.equal(new WriteOpList().remove().ops.length, 1);
 * ```
 *
 * @module
 */

export * from "./client.ts";
export * from "./object_draft.ts";
export * from "./ops.ts";
export * from "./service.ts";
export * from "./store.ts";
