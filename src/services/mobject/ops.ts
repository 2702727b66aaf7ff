/**
 * Mobject's operations, as RADOS names them: the write ops of an op list
 * (create, write, write_full, writesame, append, remove, truncate, zero,
 * omap_set, omap_rm_keys, omap_clear) and the read ops (stat, read,
 * omap_get_vals, omap_get_keys, omap_get_vals_by_keys), read from a
 * request body and checked; and the errors an op fails with, carrying its
 * RADOS errno. Pure: no I/O.
 *
 * @module
 */

import { ConflictError, InvalidRequestError, NotFoundError } from "../../errors.ts";
import { bytes, int, list, MAX_ENTRIES, record, str } from "../input.ts";

/** RADOS's errno values the ops answer (negated, as `rados_*` return them). */
export const ERRNO = { ENOENT: -2, EEXIST: -17, EINVAL: -22 } as const;

/** Longest object name, in bytes. */
export const MAX_OBJECT_NAME_BYTES = 800;
/** Longest pool name, in bytes. */
export const MAX_POOL_NAME_BYTES = 64;
/** Longest omap key, in bytes. */
export const MAX_OMAP_KEY_BYTES = 512;
/** Largest omap value, in bytes. */
export const MAX_OMAP_VALUE_BYTES = 64 * 1024;
/** Largest object size, in bytes: 2^40 (1 TiB). */
export const MAX_OBJECT_BYTES = 2 ** 40;
/** Most bytes one op writes (a `writesame`) or reads (a `read`): 64 MiB. */
export const MAX_OP_BYTES = 64 << 20;
/** Most bytes the reads of one read op list answer: 256 MiB. */
export const MAX_READ_LIST_BYTES = 256 << 20;

/** One write op of an op list. */
export type WriteOp =
  | { readonly op: "create"; readonly exclusive: boolean }
  | { readonly op: "write"; readonly data: Uint8Array; readonly offset: number }
  | { readonly op: "write_full"; readonly data: Uint8Array }
  | {
    readonly op: "writesame";
    readonly data: Uint8Array;
    readonly length: number;
    readonly offset: number;
  }
  | { readonly op: "append"; readonly data: Uint8Array }
  | { readonly op: "remove" }
  | { readonly op: "truncate"; readonly size: number }
  | { readonly op: "zero"; readonly offset: number; readonly length: number }
  | {
    readonly op: "omap_set";
    readonly keys: readonly string[];
    readonly values: readonly Uint8Array[];
  }
  | { readonly op: "omap_rm_keys"; readonly keys: readonly string[] }
  | { readonly op: "omap_clear" };

/** One read op of an op list. */
export type ReadOp =
  | { readonly op: "stat" }
  | { readonly op: "read"; readonly offset: number; readonly length: number }
  | {
    readonly op: "omap_get_vals";
    readonly startAfter: string;
    readonly prefix: string;
    readonly max: number;
  }
  | { readonly op: "omap_get_keys"; readonly startAfter: string; readonly max: number }
  | { readonly op: "omap_get_vals_by_keys"; readonly keys: readonly string[] };

const utf8 = new TextEncoder();

/**
 * The pool and object an op list names, checked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { objectOf } from "./ops.ts";
 * assert.deepEqual(objectOf({ pool: "p", object: "o" }), { pool: "p", object: "o" });
 * assert.throws(() => objectOf({ pool: "p", object: "" }), /Invalid object name/);
 * ```
 */
export function objectOf(input: unknown): { pool: string; object: string } {
  const r = record(input);
  const pool = str(r, "pool", true);
  const object = str(r, "object");
  if (utf8.encode(pool).length > MAX_POOL_NAME_BYTES) {
    throw new InvalidRequestError(`Invalid pool name: at most ${MAX_POOL_NAME_BYTES} bytes`, {
      fields: { field: "pool" },
    });
  }
  const n = utf8.encode(object).length;
  if (n === 0 || n > MAX_OBJECT_NAME_BYTES) {
    throw new InvalidRequestError(
      `Invalid object name: expected 1 to ${MAX_OBJECT_NAME_BYTES} bytes`,
      { fields: { field: "object" } },
    );
  }
  return { pool, object };
}

function offsetField(r: Record<string, unknown>, name: string): number {
  return int(r, name, 0, MAX_OBJECT_BYTES);
}

function omapKey(v: unknown, i: number): string {
  if (typeof v !== "string" || utf8.encode(v).length > MAX_OMAP_KEY_BYTES) {
    throw opError(
      "invalid",
      i,
      `omap key: expected a string of at most ${MAX_OMAP_KEY_BYTES} bytes`,
    );
  }
  return v;
}

function keysField(r: Record<string, unknown>, i: number): string[] {
  return list(r, "keys").map((k) => omapKey(k, i));
}

/**
 * The write ops of a request's `ops` list, checked (an op list writes one
 * object: at most `MAX_ENTRIES` ops).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeOps } from "./ops.ts";
 * const ops = writeOps({ ops: [{ op: "create", exclusive: true }, { op: "append", data: new Uint8Array(2) }] });
 * assert.deepEqual(ops.map((o) => o.op), ["create", "append"]);
 * assert.throws(() => writeOps({ ops: [{ op: "chmod" }] }), /Op 0 of the list failed: unknown write op "chmod"/);
 * ```
 */
export function writeOps(input: unknown): WriteOp[] {
  return list(record(input), "ops").map((raw, i): WriteOp => {
    const r = record(raw);
    const op = r.op;
    switch (op) {
      case "create":
        return { op, exclusive: r.exclusive === true };
      case "write":
        return { op, data: bytes(r.data, "data"), offset: offsetField(r, "offset") };
      case "write_full":
      case "append":
        return { op, data: bytes(r.data, "data") };
      case "writesame": {
        const data = bytes(r.data, "data");
        const length = offsetField(r, "length");
        if (length > MAX_OP_BYTES) {
          throw opError("invalid", i, `writesame length ${length} is past ${MAX_OP_BYTES} bytes`);
        }
        if (data.length === 0 || length % data.length !== 0) {
          throw opError(
            "invalid",
            i,
            `writesame length ${length} is not a multiple of its ${data.length} bytes of data`,
          );
        }
        return { op, data, length, offset: offsetField(r, "offset") };
      }
      case "remove":
      case "omap_clear":
        return { op };
      case "truncate":
        return { op, size: offsetField(r, "size") };
      case "zero":
        return { op, offset: offsetField(r, "offset"), length: offsetField(r, "length") };
      case "omap_set": {
        const keys = keysField(r, i);
        const values = list(r, "values").map((v) => bytes(v, "values"));
        if (values.length !== keys.length) {
          throw opError(
            "invalid",
            i,
            `omap_set has ${keys.length} keys and ${values.length} values`,
          );
        }
        const big = values.findIndex((v) => v.length > MAX_OMAP_VALUE_BYTES);
        if (big >= 0) {
          throw opError("invalid", i, `omap value ${big} is past ${MAX_OMAP_VALUE_BYTES} bytes`);
        }
        return { op, keys, values };
      }
      case "omap_rm_keys":
        return { op, keys: keysField(r, i) };
      default:
        throw opError("invalid", i, `unknown write op ${JSON.stringify(String(op).slice(0, 40))}`);
    }
  });
}

/**
 * A framed write op list (`write_op_bytes`): the header names the pool,
 * the object and the ops, each op that writes bytes naming its `part`
 * instead of carrying `data`; the parts are the bytes, never copied.
 * Answers the input `writeOps` takes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { framedWriteOps, writeOps } from "./ops.ts";
 * const input = framedWriteOps({ pool: "p", object: "o", ops: [{ op: "append", part: 0 }] }, [new Uint8Array(3)]);
 * assert.equal((writeOps(input)[0] as { data: Uint8Array }).data.length, 3);
 * assert.throws(() => framedWriteOps({ pool: "p", object: "o", ops: [{ op: "append", part: 1 }] }, [new Uint8Array(3)]), /no part 1/);
 * ```
 */
export function framedWriteOps(
  header: Readonly<Record<string, unknown>>,
  parts: readonly (Uint8Array | null)[],
): Record<string, unknown> {
  const ops = list(header, "ops").map((raw, i) => {
    const r = record(raw);
    if (r.part === undefined) return r;
    const part = typeof r.part === "number" ? parts[r.part] : undefined;
    if (part === undefined || part === null) {
      throw opError("invalid", i, `the body has no part ${JSON.stringify(r.part)}`);
    }
    const { part: _, ...rest } = r;
    return { ...rest, data: part };
  });
  return { ...header, ops };
}

/**
 * The read ops of a request's `ops` list, checked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readOps } from "./ops.ts";
 * const ops = readOps({ ops: [{ op: "stat" }, { op: "read", offset: 0, length: 8 }] });
 * assert.equal(ops.length, 2);
 * ```
 */
export function readOps(input: unknown): ReadOp[] {
  let reads = 0;
  return list(record(input), "ops").map((raw, i): ReadOp => {
    const r = record(raw);
    const op = r.op;
    switch (op) {
      case "stat":
        return { op };
      case "read": {
        const length = int(r, "length", 0, MAX_OP_BYTES);
        reads += length;
        if (reads > MAX_READ_LIST_BYTES) {
          throw opError("invalid", i, `the list reads more than ${MAX_READ_LIST_BYTES} bytes`);
        }
        return { op, offset: offsetField(r, "offset"), length };
      }
      case "omap_get_vals":
        return {
          op,
          startAfter: str(r, "startAfter", true),
          prefix: str(r, "prefix", true),
          max: int(r, "max", 0, MAX_ENTRIES, MAX_ENTRIES),
        };
      case "omap_get_keys":
        return {
          op,
          startAfter: str(r, "startAfter", true),
          max: int(r, "max", 0, MAX_ENTRIES, MAX_ENTRIES),
        };
      case "omap_get_vals_by_keys":
        return { op, keys: keysField(r, i) };
      default:
        throw opError("invalid", i, `unknown read op ${JSON.stringify(String(op).slice(0, 40))}`);
    }
  });
}

/**
 * The error an op of a list fails with: `missing` (ENOENT, 404), `exists`
 * (EEXIST, 409) or `invalid` (EINVAL, 400); `fields` carry `errno` and the
 * op's index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { opError } from "./ops.ts";
 * const e = opError("exists", 0, "object 'a' exists");
 * assert.equal(e.code, "conflict");
 * assert.equal(e.fields.errno, -17);
 * ```
 */
export function opError(
  kind: "missing" | "exists" | "invalid",
  op: number,
  what: string,
): NotFoundError | ConflictError | InvalidRequestError {
  const message = `Op ${op} of the list failed: ${what}; nothing of the list was applied`;
  if (kind === "missing") {
    return new NotFoundError(message, { fields: { errno: ERRNO.ENOENT, op } });
  }
  if (kind === "exists") return new ConflictError(message, { fields: { errno: ERRNO.EEXIST, op } });
  return new InvalidRequestError(message, { fields: { errno: ERRNO.EINVAL, op } });
}
