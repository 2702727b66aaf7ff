/**
 * Where HEPnOS's items and products go among a service's targets, with its
 * co-location: a dataset's children hash by the parent's path, a dataset's
 * runs by its UUID, a run's subruns by (UUID, run), a subrun's events by
 * (UUID, run, subrun), and products by their item's first 32 bytes, so a
 * SubRun's events and their products each sit on one target.
 *
 * @module
 */

import { hash32, mix32 } from "../hash.ts";
import type { TargetRing } from "../targets.ts";
import { type Item, kindOf, UUID_BYTES } from "./codec.ts";

const PRIME = 0x9e3779b1;

function fold(n: bigint): number {
  return (Number(n & 0xffff_ffffn) ^ Math.imul(Number(n >> 32n), 0x85ebca6b)) >>> 0;
}

/**
 * The target of the children of the dataset at `parentPath`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TargetRing } from "../targets.ts";
 * import { datasetTarget } from "./placement.ts";
 * const ring = new TargetRing(4);
 * assert.equal(datasetTarget(["a"], ring), datasetTarget(["a"], ring));
 * ```
 */
export function datasetTarget(parentPath: readonly string[], ring: TargetRing): number {
  return ring.targetOf(hash32(new TextEncoder().encode(parentPath.join("/"))));
}

/**
 * The target of a run, subrun or event: runs of a dataset share one, as do
 * the subruns of a run and the events of a subrun.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TargetRing } from "../targets.ts";
 * import { itemTarget } from "./placement.ts";
 * const ring = new TargetRing(8);
 * const uuid = new Uint8Array(16).fill(3);
 * assert.equal(itemTarget({ uuid, run: 1n, subrun: 2n, event: 5n }, ring),
 *              itemTarget({ uuid, run: 1n, subrun: 2n, event: 9n }, ring));
 * ```
 */
export function itemTarget(item: Item, ring: TargetRing): number {
  let h = hash32(item.uuid);
  const kind = kindOf(item);
  if (kind === "run" || kind === "dataset") return ring.targetOf(h);
  h = mix32(Math.imul(h, PRIME) ^ fold(item.run));
  if (kind === "subrun") return ring.targetOf(h);
  return ring.targetOf(mix32(Math.imul(h, PRIME) ^ fold(item.subrun)));
}

/**
 * `itemTarget` of a descriptor's bytes at `level` (`itemLevel`), without
 * decoding it: the same target, read from the numbers' bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TargetRing } from "../targets.ts";
 * import { encodeItem } from "./codec.ts";
 * import { descriptorTarget, itemTarget } from "./placement.ts";
 * const ring = new TargetRing(8);
 * const item = { uuid: new Uint8Array(16).fill(3), run: 1n, subrun: 2n, event: 5n };
 * assert.equal(descriptorTarget(encodeItem(item), 3, ring), itemTarget(item, ring));
 * ```
 */
export function descriptorTarget(bytes: Uint8Array, level: number, ring: TargetRing): number {
  let h = hash32(bytes.subarray(0, UUID_BYTES));
  if (level <= 1) return ring.targetOf(h);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // fold() of each number: its low 32 bits xor its high 32 bits times a constant.
  const foldAt = (at: number) =>
    (view.getUint32(at + 4) ^ Math.imul(view.getUint32(at), 0x85ebca6b)) >>> 0;
  h = mix32(Math.imul(h, PRIME) ^ foldAt(UUID_BYTES));
  if (level === 2) return ring.targetOf(h);
  return ring.targetOf(mix32(Math.imul(h, PRIME) ^ foldAt(UUID_BYTES + 8)));
}

/**
 * The target of a product of the item `descriptor`: the hash of its first
 * 32 bytes (UUID, run, subrun), so a subrun's products and its events'
 * products share one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TargetRing } from "../targets.ts";
 * import { encodeItem } from "./codec.ts";
 * import { productTarget } from "./placement.ts";
 * const ring = new TargetRing(8);
 * const uuid = new Uint8Array(16);
 * assert.equal(productTarget(encodeItem({ uuid, run: 1n, subrun: 2n, event: 3n }), ring),
 *              productTarget(encodeItem({ uuid, run: 1n, subrun: 2n, event: 4n }), ring));
 * ```
 */
export function productTarget(descriptor: Uint8Array, ring: TargetRing): number {
  return ring.targetOf(hash32(descriptor.subarray(0, 32)));
}
