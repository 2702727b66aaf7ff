/**
 * HEPnOS's keys, byte for byte: a 40-byte item descriptor (the dataset's
 * 16-byte UUID, then run, subrun and event numbers as big-endian u64, an
 * absent level written as all ones), so bytewise order is numeric order;
 * product keys (descriptor, label, `#`, type name); dataset keys (level
 * byte, parent path, `/`, name). Pure: no I/O.
 *
 * @module
 */

import { InvalidRequestError } from "../../errors.ts";
import { hash32 } from "../hash.ts";

/** Bytes of a dataset UUID. */
export const UUID_BYTES = 16;
/** Bytes of an item descriptor. */
export const DESCRIPTOR_BYTES = 40;
/** The number that marks an absent level (HEPnOS's `Invalid*Number`): 2^64 - 1. */
export const INVALID = 0xffff_ffff_ffff_ffffn;
/** Most levels of nested datasets. */
export const MAX_DATASET_DEPTH = 255;
/** Longest label or type name, in bytes. */
export const MAX_NAME_BYTES = 512;

/** The parts of an item descriptor. */
export interface Item {
  /** The dataset's UUID. */
  readonly uuid: Uint8Array;
  /** Run number (`INVALID` for the dataset itself). */
  readonly run: bigint;
  /** SubRun number (`INVALID` for a run or dataset). */
  readonly subrun: bigint;
  /** Event number (`INVALID` above events). */
  readonly event: bigint;
}

/** The level an item descriptor names. */
export type ItemKind = "dataset" | "run" | "subrun" | "event";

const utf8 = new TextEncoder();

/**
 * The 40-byte descriptor of an item.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeItem, encodeItem, INVALID } from "./codec.ts";
 * const uuid = new Uint8Array(16).fill(7);
 * const key = encodeItem({ uuid, run: 1n, subrun: 2n, event: INVALID });
 * assert.equal(key.length, 40);
 * assert.deepEqual([...key.subarray(16, 24)], [0, 0, 0, 0, 0, 0, 0, 1]);
 * assert.equal(decodeItem(key).subrun, 2n);
 * ```
 */
export function encodeItem(item: Item): Uint8Array {
  if (item.uuid.length !== UUID_BYTES) {
    throw new InvalidRequestError(
      `Invalid dataset UUID: expected 16 bytes, found ${item.uuid.length}`,
    );
  }
  const out = new Uint8Array(DESCRIPTOR_BYTES);
  out.set(item.uuid, 0);
  const view = new DataView(out.buffer);
  view.setBigUint64(16, checkU64(item.run, "run"));
  view.setBigUint64(24, checkU64(item.subrun, "subrun"));
  view.setBigUint64(32, checkU64(item.event, "event"));
  return out;
}

/**
 * The parts of a 40-byte descriptor; `InvalidRequestError` for another size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeItem, encodeItem } from "./codec.ts";
 * const item = { uuid: new Uint8Array(16), run: 5n, subrun: 6n, event: 7n };
 * assert.deepEqual(decodeItem(encodeItem(item)), item);
 * ```
 */
export function decodeItem(bytes: Uint8Array): Item {
  if (!(bytes instanceof Uint8Array) || bytes.length !== DESCRIPTOR_BYTES) {
    throw new InvalidRequestError(
      `Invalid item descriptor: expected ${DESCRIPTOR_BYTES} bytes, found ${
        bytes instanceof Uint8Array ? bytes.length : typeof bytes
      }`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    uuid: bytes.slice(0, UUID_BYTES),
    run: view.getBigUint64(16),
    subrun: view.getBigUint64(24),
    event: view.getBigUint64(32),
  };
}

/**
 * Bytes as a map key: one char per byte (latin1), for descriptors and
 * product keys.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesKey } from "./codec.ts";
 * assert.equal(bytesKey(new Uint8Array([104, 105, 0])), "hi\u0000");
 * ```
 */
export function bytesKey(bytes: Uint8Array): string {
  // `apply` takes the bytes as they are; a spread walks an iterator, 7x slower.
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/**
 * The level of a 40-byte descriptor, read from its bytes without decoding
 * it: 0 a dataset, 1 a run, 2 a subrun, 3 an event (the numbers present
 * before the first absent one, `INVALID`: eight bytes of ones).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { descriptorLevel, encodeItem, INVALID } from "./codec.ts";
 * const uuid = new Uint8Array(16);
 * assert.equal(descriptorLevel(encodeItem({ uuid, run: 3n, subrun: 1n, event: INVALID })), 2);
 * assert.equal(descriptorLevel(encodeItem({ uuid, run: INVALID, subrun: INVALID, event: INVALID })), 0);
 * ```
 */
export function descriptorLevel(bytes: Uint8Array): number {
  let level = 0;
  for (let at = UUID_BYTES; at < DESCRIPTOR_BYTES; at += 8, level++) {
    let absent = true;
    for (let b = at; b < at + 8; b++) if (bytes[b] !== 0xff) absent = false;
    if (absent) break;
  }
  return level;
}

/**
 * The level of a descriptor (`descriptorLevel`), checked as `decodeItem`
 * and `kindOf` check it, without decoding it: `InvalidRequestError` for
 * another size than 40 bytes or a number after an absent one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeItem, INVALID, itemLevel } from "./codec.ts";
 * const uuid = new Uint8Array(16);
 * assert.equal(itemLevel(encodeItem({ uuid, run: 3n, subrun: 1n, event: 2n })), 3);
 * assert.throws(() => itemLevel(encodeItem({ uuid, run: 3n, subrun: INVALID, event: 2n })));
 * ```
 */
export function itemLevel(bytes: Uint8Array): number {
  if (!(bytes instanceof Uint8Array) || bytes.length !== DESCRIPTOR_BYTES) decodeItem(bytes);
  const level = descriptorLevel(bytes);
  for (let b = UUID_BYTES + 8 * level; b < DESCRIPTOR_BYTES; b++) {
    if (bytes[b] !== 0xff) throw malformed(decodeItem(bytes));
  }
  return level;
}

/**
 * The descriptor of an item's parent, from its bytes: its last present
 * number made absent (a dataset's parent is itself), as
 * `encodeItem(parentOf(decodeItem(bytes)))` without decoding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeItem, INVALID, parentDescriptor } from "./codec.ts";
 * const uuid = new Uint8Array(16).fill(1);
 * const event = encodeItem({ uuid, run: 3n, subrun: 1n, event: 9n });
 * assert.deepEqual(parentDescriptor(event), encodeItem({ uuid, run: 3n, subrun: 1n, event: INVALID }));
 * ```
 */
export function parentDescriptor(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(DESCRIPTOR_BYTES).fill(0xff);
  out.set(bytes.subarray(0, UUID_BYTES + 8 * Math.max(0, descriptorLevel(bytes) - 1)));
  return out;
}

/**
 * Whether two descriptors at `level` (1 to 3) share their parent: the same
 * bytes but those of their last number, as `parentDescriptor` reads them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeItem, sameParent } from "./codec.ts";
 * const uuid = new Uint8Array(16);
 * const e = (subrun: bigint, event: bigint) => encodeItem({ uuid, run: 1n, subrun, event });
 * assert.equal(sameParent(e(2n, 5n), e(2n, 9n), 3), true);
 * assert.equal(sameParent(e(2n, 5n), e(3n, 5n), 3), false);
 * ```
 */
export function sameParent(a: Uint8Array, b: Uint8Array, level: number): boolean {
  for (let k = UUID_BYTES + 8 * (level - 1) - 1; k >= 0; k--) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * The level a descriptor names; `InvalidRequestError` for a number after an
 * absent level (an event without a subrun).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INVALID, kindOf } from "./codec.ts";
 * const uuid = new Uint8Array(16);
 * assert.equal(kindOf({ uuid, run: 3n, subrun: INVALID, event: INVALID }), "run");
 * assert.equal(kindOf({ uuid, run: 3n, subrun: 1n, event: 0n }), "event");
 * ```
 */
export function kindOf(item: Item): ItemKind {
  if (item.run === INVALID) {
    if (item.subrun !== INVALID || item.event !== INVALID) throw malformed(item);
    return "dataset";
  }
  if (item.subrun === INVALID) {
    if (item.event !== INVALID) throw malformed(item);
    return "run";
  }
  return item.event === INVALID ? "subrun" : "event";
}

/**
 * The descriptor of an item's parent (a dataset's own descriptor for a run).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INVALID, parentOf } from "./codec.ts";
 * const p = parentOf({ uuid: new Uint8Array(16), run: 3n, subrun: 1n, event: 9n });
 * assert.equal(p.event, INVALID);
 * assert.equal(p.subrun, 1n);
 * ```
 */
export function parentOf(item: Item): Item {
  if (item.event !== INVALID) return { ...item, event: INVALID };
  if (item.subrun !== INVALID) return { ...item, subrun: INVALID };
  return { ...item, run: INVALID };
}

/**
 * A product's key: descriptor, label, `#`, type name. Labels refuse `#`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { productKey } from "./codec.ts";
 * const key = productKey(new Uint8Array(40), "hits", "float64[]");
 * assert.equal(new TextDecoder().decode(key.subarray(40)), "hits#float64[]");
 * ```
 */
export function productKey(descriptor: Uint8Array, label: string, type: string): Uint8Array {
  const suffix = suffixOf(label, type).bytes;
  const out = new Uint8Array(descriptor.length + suffix.length);
  out.set(descriptor, 0);
  out.set(suffix, descriptor.length);
  return out;
}

/**
 * `productKey(descriptor, label, type)` written into `out` from its start:
 * the view of `out` it fills (a new array when `out` is too short). A
 * product's key to look it up in memory, made on every load of one,
 * without a new buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { productKey, productKeyInto } from "./codec.ts";
 * const d = new Uint8Array(40).fill(200);
 * const scratch = new Uint8Array(64);
 * const key = productKeyInto(scratch, d, "hits", "f8");
 * assert.equal(key.buffer, scratch.buffer);
 * assert.deepEqual(key, productKey(d, "hits", "f8"));
 * assert.deepEqual(productKeyInto(new Uint8Array(4), d, "hits", "f8"), key);
 * ```
 */
export function productKeyInto(
  out: Uint8Array,
  descriptor: Uint8Array,
  label: string,
  type: string,
): Uint8Array {
  const suffix = suffixOf(label, type).bytes;
  const n = descriptor.length + suffix.length;
  if (n > out.length) return productKey(descriptor, label, type);
  out.set(descriptor, 0);
  out.set(suffix, descriptor.length);
  return out.subarray(0, n);
}

/** A product key's encoded `label#type` suffix. */
interface Suffix {
  readonly label: string;
  readonly type: string;
  readonly bytes: Uint8Array;
}

/** Suffixes by `label#type`; emptied when full. */
const suffixes = new Map<string, Suffix>();
const MAX_SUFFIXES = 1024;

/** The suffix made last: a batch names one pair for all its products. */
let lastSuffix: Suffix | undefined;

function suffixOf(label: string, type: string): Suffix {
  if (lastSuffix !== undefined && label === lastSuffix.label && type === lastSuffix.type) {
    return lastSuffix;
  }
  // A label has no '#', so `label#type` names one pair: the suffix of a
  // pair seen before is reused (a batched load of 128 products encoded the
  // same two names 128 times; bench/services_bench.ts).
  const seen = typeof label === "string" && typeof type === "string" && !label.includes("#")
    ? suffixes.get(`${label}#${type}`)
    : undefined;
  return lastSuffix = seen ?? productSuffix(label, type);
}

function productSuffix(label: string, type: string): Suffix {
  const l = checkName(label, "label");
  if (label.includes("#")) {
    throw new InvalidRequestError(`Invalid product label '${label}': '#' is not allowed`, {
      fields: { label },
    });
  }
  const t = checkName(type, "type name");
  const out = new Uint8Array(l.length + 1 + t.length);
  out.set(l, 0);
  out[l.length] = 0x23;
  out.set(t, l.length + 1);
  const suffix = { label, type, bytes: out };
  if (suffixes.size >= MAX_SUFFIXES) suffixes.clear();
  suffixes.set(`${label}#${type}`, suffix);
  return suffix;
}

/**
 * The label and type name of a product key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { productKey, splitProductKey } from "./codec.ts";
 * assert.deepEqual(splitProductKey(productKey(new Uint8Array(40), "a", "b#c")), { label: "a", type: "b#c" });
 * ```
 */
export function splitProductKey(key: Uint8Array): { label: string; type: string } {
  const rest = new TextDecoder().decode(key.subarray(DESCRIPTOR_BYTES));
  const at = rest.indexOf("#");
  return { label: rest.slice(0, at), type: rest.slice(at + 1) };
}

/**
 * Checks a dataset name: not empty, no `/` or `%`, at most 255 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDatasetName } from "./codec.ts";
 * checkDatasetName("nova");
 * assert.throws(() => checkDatasetName("a/b"), /not allowed/);
 * assert.throws(() => checkDatasetName("50%"), /not allowed/);
 * ```
 */
export function checkDatasetName(name: unknown): string {
  if (typeof name !== "string" || name === "" || utf8.encode(name).length > 255) {
    throw new InvalidRequestError(
      `Invalid dataset name ${JSON.stringify(name)}: expected 1 to 255 bytes`,
      { fields: { name: typeof name === "string" ? name : null } },
    );
  }
  if (name.includes("/") || name.includes("%")) {
    throw new InvalidRequestError(`Invalid dataset name '${name}': '/' and '%' are not allowed`, {
      fields: { name },
    });
  }
  return name;
}

/**
 * Splits a dataset path (`a/b/c`, leading `/` optional; empty for the root)
 * into checked names; `InvalidRequestError` past 255 levels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitPath } from "./codec.ts";
 * assert.deepEqual(splitPath("/a/b"), ["a", "b"]);
 * assert.deepEqual(splitPath(""), []);
 * ```
 */
export function splitPath(path: unknown): string[] {
  if (typeof path !== "string") {
    throw new InvalidRequestError(`Invalid dataset path: expected a string, found ${typeof path}`);
  }
  const trimmed = path.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") return [];
  const names = trimmed.split("/").map(checkDatasetName);
  if (names.length > MAX_DATASET_DEPTH) {
    throw new InvalidRequestError(
      `Dataset path too deep: ${names.length} levels, at most ${MAX_DATASET_DEPTH}`,
      { fields: { levels: names.length, limit: MAX_DATASET_DEPTH } },
    );
  }
  return names;
}

/**
 * The key of a dataset: its level (1 for a child of the root), then
 * `parent/name`. A parent's children share the prefix, in name order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetKey } from "./codec.ts";
 * const k = datasetKey(["a"], "b");
 * assert.equal(k[0], 2);
 * assert.equal(new TextDecoder().decode(k.subarray(1)), "a/b");
 * ```
 */
export function datasetKey(parent: readonly string[], name: string): Uint8Array {
  return new Uint8Array([parent.length + 1, ...utf8.encode(`${parent.join("/")}/${name}`)]);
}

/**
 * The prefix of the keys of a dataset's children.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { childPrefix, datasetKey } from "./codec.ts";
 * const p = childPrefix(["a"]);
 * assert.deepEqual(datasetKey(["a"], "b").subarray(0, p.length), p);
 * ```
 */
export function childPrefix(parent: readonly string[]): Uint8Array {
  return new Uint8Array([parent.length + 1, ...utf8.encode(`${parent.join("/")}/`)]);
}

/**
 * A dataset's UUID, derived from its path alone, so that racing creates of
 * one dataset agree.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetUuid } from "./codec.ts";
 * assert.deepEqual(datasetUuid(["a", "b"]), datasetUuid(["a", "b"]));
 * assert.notDeepEqual(datasetUuid(["a", "b"]), datasetUuid(["a", "c"]));
 * ```
 */
export function datasetUuid(path: readonly string[]): Uint8Array {
  const bytes = utf8.encode(`${path.length}:${path.join("/")}`);
  const out = new Uint8Array(UUID_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) view.setUint32(i * 4, hash32(bytes, 0x51ed27 * (i + 1)));
  return out;
}

/**
 * A u64 from a bigint, a safe integer or a decimal string;
 * `InvalidRequestError` otherwise. `INVALID` itself is accepted (it marks
 * an absent level).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkU64 } from "./codec.ts";
 * assert.equal(checkU64("18446744073709551614", "run"), 18446744073709551614n);
 * assert.throws(() => checkU64(-1, "run"), /Invalid run/);
 * ```
 */
export function checkU64(v: unknown, what: string): bigint {
  let n: bigint | undefined;
  if (typeof v === "bigint") n = v;
  else if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === "string" && /^[0-9]{1,20}$/.test(v)) n = BigInt(v);
  if (n === undefined || n < 0n || n > INVALID) {
    throw new InvalidRequestError(
      `Invalid ${what} number ${JSON.stringify(String(v))}: expected an integer from 0 to 2^64-2`,
      { fields: { [what]: String(v) } },
    );
  }
  return n;
}

function checkName(name: unknown, what: string): Uint8Array {
  if (typeof name !== "string" || name === "") {
    throw new InvalidRequestError(`Invalid product ${what}: expected a non-empty string`);
  }
  const b = utf8.encode(name);
  if (b.length > MAX_NAME_BYTES) {
    throw new InvalidRequestError(
      `Invalid product ${what}: ${b.length} bytes, at most ${MAX_NAME_BYTES}`,
      { fields: { bytes: b.length, limit: MAX_NAME_BYTES } },
    );
  }
  return b;
}

function malformed(item: Item): InvalidRequestError {
  return new InvalidRequestError(
    `Invalid item descriptor: run ${item.run}, subrun ${item.subrun}, event ${item.event} skips a level`,
  );
}
