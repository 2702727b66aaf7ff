/**
 * The order Deno KV keeps keys in, for checks made before a scan: a range
 * whose start is not before its end holds nothing (Deno KV throws on it).
 * Pure: no I/O.
 *
 * @module
 */

const utf8 = new TextEncoder();

/** Rank of a key part's type: bytes, then strings, bigints, numbers, booleans. */
function rank(p: Deno.KvKeyPart): number {
  if (p instanceof Uint8Array) return 0;
  switch (typeof p) {
    case "string":
      return 1;
    case "bigint":
      return 2;
    case "number":
      return 3;
    default:
      return 4;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function compareNumbers(a: number, b: number): number {
  // NaN sorts after every other number, as Deno KV encodes it.
  if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
  if (a === b) return Object.is(a, -0) === Object.is(b, -0) ? 0 : Object.is(a, -0) ? -1 : 1;
  return a < b ? -1 : 1;
}

/** Compares two key parts in Deno KV's order. */
export function compareKeyParts(a: Deno.KvKeyPart, b: Deno.KvKeyPart): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return compareBytes(a as Uint8Array, b as Uint8Array);
    case 1:
      return compareBytes(utf8.encode(a as string), utf8.encode(b as string));
    case 2:
      return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
    case 3:
      return compareNumbers(a as number, b as number);
    default:
      return Number(a) - Number(b);
  }
}

/**
 * Compares two keys in Deno KV's order: part by part, a key before every
 * longer key it starts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareKvKeys } from "./kv_order.ts";
 * assert.ok(compareKvKeys(["ev", 1, new Uint8Array([2])], ["ev", 1, new Uint8Array([1, 0])]) > 0);
 * assert.ok(compareKvKeys(["a"], ["a", 0]) < 0);
 * assert.ok(compareKvKeys([new Uint8Array([255])], [""]) < 0); // bytes before strings
 * ```
 */
export function compareKvKeys(a: Deno.KvKey, b: Deno.KvKey): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareKeyParts(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Whether `key` lies under `prefix` (starts with it and is longer). */
function under(key: Deno.KvKey, prefix: Deno.KvKey): boolean {
  return key.length > prefix.length && compareKvKeys(key.slice(0, prefix.length), prefix) === 0;
}

/**
 * A scan's Deno KV selector, with `start` and `end` brought inside
 * `prefix` (Deno KV throws on a start or end outside it, and lists past it
 * from a start and an end): a start before the prefix's keys starts at the
 * first, an end after them ends at the last; undefined when the range holds
 * nothing (it ends where or before it starts, or lies wholly outside the
 * prefix).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scanSelector } from "./kv_order.ts";
 * assert.deepEqual(scanSelector(["ev"], ["ev", 2], ["zz"]), { prefix: ["ev"], start: ["ev", 2] });
 * assert.equal(scanSelector(["ev"], ["ev", 5], ["ev", 2]), undefined);
 * assert.equal(scanSelector(["ev"], ["fz"], undefined), undefined);
 * ```
 */
export function scanSelector(
  prefix: Deno.KvKey | undefined,
  start: Deno.KvKey | undefined,
  end: Deno.KvKey | undefined,
): Deno.KvListSelector | undefined {
  if (prefix !== undefined) {
    if (start !== undefined && !under(start, prefix)) {
      if (compareKvKeys(start, prefix) > 0) return undefined;
      start = undefined;
    }
    if (end !== undefined && !under(end, prefix)) {
      if (compareKvKeys(end, prefix) <= 0) return undefined;
      end = undefined;
    }
  }
  if (start !== undefined && end !== undefined) {
    return compareKvKeys(start, end) < 0 ? { start, end } : undefined;
  }
  if (prefix === undefined) throw new RangeError("A scan needs a prefix, or a start and an end");
  if (start !== undefined) return { prefix, start };
  if (end !== undefined) return { prefix, end };
  return { prefix };
}
