/**
 * A list of products to load or store, framed (`frames.ts`) rather than msgpack: a
 * batched load names the same label and type for most of its products, and
 * decoding a map per product cost more than answering it from memory. The
 * header holds each distinct `[label, type]` pair once (`pairs`), the byte
 * ranges asked for (`ranges`, `[index, offset, length | null]`) and a lease's
 * `ttlMs`; part 0 is the items' 40-byte descriptors back to back, part 1 each
 * product's pair as a big-endian u16 index into `pairs`; a store's values
 * follow as the parts after them (`productListPieces`).
 *
 * @module
 */

import { InvalidRequestError } from "../../errors.ts";
import { frame, unframe } from "../frames.ts";
import { MAX_ENTRIES } from "../input.ts";
import { DESCRIPTOR_BYTES } from "./codec.ts";
import type { ProductRead } from "./store.ts";

/** Most distinct `[label, type]` pairs in one list. */
const MAX_PAIRS = 1 << 16;

/** A product list read back: the products, and a lease's time to live as sent. */
export interface ProductList {
  /** The products, in order. */
  readonly products: ProductRead[];
  /** The header's `ttlMs`, unchecked (`leaseOptions` checks it). */
  readonly ttlMs: unknown;
}

/**
 * The pieces of a framed list of `products` (views of their descriptors are
 * copied into one part), with `ttlMs` for a lease.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinBytes } from "../../http/join_bytes.ts";
 * import { productListBody, productListOf } from "./product_list.ts";
 * const item = new Uint8Array(40).fill(1);
 * const body = productListBody([
 *   { item, label: "hits", type: "f8" },
 *   { item, label: "hits", type: "f8", offset: 8, length: 16 },
 * ]);
 * const back = productListOf(joinBytes(body));
 * assert.equal(back.products.length, 2);
 * assert.deepEqual(back.products[1], { item, label: "hits", type: "f8", offset: 8, length: 16 });
 * ```
 */
export function productListBody(
  products: readonly ProductRead[],
  options: { readonly ttlMs?: number } = {},
): Uint8Array<ArrayBuffer>[] {
  const { header, parts } = productListPieces(products, options);
  return frame(header, parts);
}

/**
 * A product list's header and its two parts, unframed: `productListBody`
 * frames them alone, a framed `store_bytes` body with the products' values
 * as the parts after them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { productListPieces } from "./product_list.ts";
 * const item = new Uint8Array(40);
 * const { header, parts } = productListPieces([{ item, label: "l", type: "t" }]);
 * assert.deepEqual(header, { pairs: [["l", "t"]] });
 * assert.deepEqual(parts.map((p) => p.byteLength), [40, 2]);
 * ```
 */
export function productListPieces(
  products: readonly ProductRead[],
  options: { readonly ttlMs?: number } = {},
): { header: Record<string, unknown>; parts: Uint8Array<ArrayBuffer>[] } {
  const items = new Uint8Array(products.length * DESCRIPTOR_BYTES);
  const indices = new Uint8Array(products.length * 2);
  const pairs: [string, string][] = [];
  const seen = new Map<string, number>();
  const ranges: [number, number, number | null][] = [];
  let lastLabel: string | undefined;
  let lastType: string | undefined;
  let last = -1;
  products.forEach((p, i) => {
    if (p.item.byteLength !== DESCRIPTOR_BYTES) {
      throw new InvalidRequestError(
        `Invalid item: expected ${DESCRIPTOR_BYTES} bytes, found ${p.item.byteLength}`,
      );
    }
    items.set(p.item, i * DESCRIPTOR_BYTES);
    // Most lists name one pair throughout: compared, not looked up.
    if (p.label !== lastLabel || p.type !== lastType) {
      const id = `${p.label.length}:${p.label}${p.type}`;
      let at = seen.get(id);
      if (at === undefined) {
        at = pairs.push([p.label, p.type]) - 1;
        seen.set(id, at);
      }
      lastLabel = p.label;
      lastType = p.type;
      last = at;
    }
    indices[2 * i] = last >> 8;
    indices[2 * i + 1] = last & 0xff;
    if (p.offset !== undefined || p.length !== undefined) {
      ranges.push([i, p.offset ?? 0, p.length ?? null]);
    }
  });
  if (pairs.length > MAX_PAIRS) {
    throw new InvalidRequestError(
      `Too many label and type pairs in one list: ${pairs.length}, at most ${MAX_PAIRS}`,
    );
  }
  return {
    header: {
      pairs,
      ...(ranges.length === 0 ? {} : { ranges }),
      ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
    },
    parts: [items, indices],
  };
}

/**
 * The products a framed list names; `InvalidRequestError` for a body that
 * is not one (parts of the wrong sizes, a pair index out of range, a bad
 * range or name).
 */
export function productListOf(body: Uint8Array): ProductList {
  const { header, parts } = unframe(body);
  const [items, indices] = parts;
  if (parts.length !== 2 || items == null || indices == null) {
    throw bad("expected two parts, the descriptors and the pair indices");
  }
  return productListFrom(header, items, indices);
}

/**
 * The products a product list's header, descriptors (part 0) and pair
 * indices (part 1) name, as `productListOf` reads them from a body of its
 * own; the items are views of `items`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { productListFrom, productListPieces } from "./product_list.ts";
 * const item = new Uint8Array(40).fill(3);
 * const { header, parts } = productListPieces([{ item, label: "l", type: "t" }]);
 * const back = productListFrom(header, parts[0]!, parts[1]!);
 * assert.deepEqual(back.products, [{ item, label: "l", type: "t" }]);
 * ```
 */
export function productListFrom(
  header: Readonly<Record<string, unknown>>,
  items: Uint8Array,
  indices: Uint8Array,
): ProductList {
  if (items.byteLength % DESCRIPTOR_BYTES !== 0) {
    throw bad(`${items.byteLength} bytes of descriptors, not a multiple of ${DESCRIPTOR_BYTES}`);
  }
  const n = items.byteLength / DESCRIPTOR_BYTES;
  if (n > MAX_ENTRIES) {
    throw new InvalidRequestError(
      `Invalid product list: ${n} products, at most ${MAX_ENTRIES} a request`,
      { fields: { products: n, limit: MAX_ENTRIES } },
    );
  }
  if (indices.byteLength !== 2 * n) {
    throw bad(`${indices.byteLength} bytes of pair indices for ${n} products, expected ${2 * n}`);
  }
  const pairs = header.pairs;
  if (
    !Array.isArray(pairs) || pairs.length > MAX_PAIRS ||
    !pairs.every((p) =>
      Array.isArray(p) && p.length === 2 && typeof p[0] === "string" && typeof p[1] === "string"
    )
  ) {
    throw bad("'pairs' must be a list of [label, type] strings");
  }
  const products: ProductRead[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const k = (indices[2 * i]! << 8) | indices[2 * i + 1]!;
    const pair = pairs[k] as [string, string] | undefined;
    if (pair === undefined) throw bad(`product ${i} names pair ${k} of ${pairs.length}`);
    products[i] = {
      item: items.subarray(i * DESCRIPTOR_BYTES, (i + 1) * DESCRIPTOR_BYTES),
      label: pair[0],
      type: pair[1],
    };
  }
  const ranges = header.ranges ?? [];
  if (!Array.isArray(ranges) || ranges.length > n) {
    throw bad("'ranges' must be a list of [index, offset, length | null], one per product at most");
  }
  for (const r of ranges) {
    const [i, offset, length] = Array.isArray(r) ? r : [];
    const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
    if (
      !Array.isArray(r) || r.length !== 3 || !count(i) || (i as number) >= n || !count(offset) ||
      (length !== null && !count(length))
    ) {
      throw bad(`range ${JSON.stringify(r)} is not [index, offset, length | null] of a product`);
    }
    const p = products[i as number]!;
    products[i as number] = {
      ...p,
      offset: offset as number,
      ...(length === null ? {} : { length: length as number }),
    };
  }
  return { products, ttlMs: header.ttlMs };
}

function bad(detail: string): InvalidRequestError {
  return new InvalidRequestError(`Invalid product list: ${detail}`);
}
