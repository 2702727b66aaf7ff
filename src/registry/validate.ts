/**
 * Checks of what callers hand the registry: names, version numbers,
 * retention, size variables and region bindings. Pure: no KV, no I/O.
 *
 * @module
 */

import type { Dataset } from "../ddl/mod.ts";
import { InvalidRequestError, LayoutError } from "../errors.ts";

/** Valid dataset and node names. */
export const NAME_PATTERN: RegExp = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

/** Largest description text the registry stores, in UTF-8 bytes (a KV value holds 64 KiB). */
export const MAX_DESCRIPTION_BYTES = 32 * 1024;

/**
 * Largest description in its JSON form, in bytes of its JSON text: checked
 * before it is compiled (its canonical text must still fit
 * `MAX_DESCRIPTION_BYTES` once printed).
 */
export const MAX_DESCRIPTION_JSON_BYTES = 256 * 1024;

/** Longest tier name, tier kind, fragment name or binding name, in characters. */
export const MAX_LABEL_LENGTH = 128;

/** Longest node URL or data plane address, in characters (Deno KV keys hold 2 KiB, values 64 KiB). */
export const MAX_URL_LENGTH = 2048;

/** Most tiers a node reports. */
export const MAX_NODE_TIERS = 64;

/** Most bindings (fragment parameters and size variables) of one region. */
export const MAX_BINDINGS = 64;

/**
 * Largest free-form value a request hands to be stored (a pipeline's
 * definition with its `args`), in bytes of its JSON text: half of what a
 * Deno KV value holds (64 KiB), leaving room for what is stored with it.
 */
export const MAX_STORED_JSON_BYTES = 32 * 1024;

/** What a name names, for messages. */
export type NameKind = "dataset" | "node" | "function" | "alias" | "pipeline";

/**
 * Throws `InvalidRequestError` unless `name` is a valid dataset, node,
 * function, alias or pipeline name (`NAME_PATTERN`: at most 128 characters,
 * far below Deno KV's 2 KiB key limit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkName } from "./validate.ts";
 * checkName("dataset", "grid.v2");
 * assert.throws(() => checkName("dataset", "9grid"), { code: "invalid_request" });
 * ```
 */
export function checkName(kind: NameKind, name: unknown): asserts name is string {
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    const text = String(name);
    const shown = text.length > 140
      ? `'${text.slice(0, 140)}...' (${text.length} characters)`
      : `'${text}'`;
    throw new InvalidRequestError(
      `Invalid ${kind} name ${shown}: expected a letter then up to 127 letters, digits, '_', '.' or '-'`,
    );
  }
}

/**
 * Throws `InvalidRequestError` unless `v` is a version number (an integer >= 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkVersion } from "./validate.ts";
 * checkVersion(3);
 * assert.throws(() => checkVersion(0), { message: "Invalid version 0: expected an integer >= 1" });
 * ```
 */
export function checkVersion(v: unknown): asserts v is number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
    throw new InvalidRequestError(`Invalid version ${String(v)}: expected an integer >= 1`);
  }
}

/**
 * Throws `InvalidRequestError` unless `k` is a retention (an integer >= 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkRetention } from "./validate.ts";
 * checkRetention(2);
 * assert.throws(() => checkRetention(0), { code: "invalid_request" });
 * ```
 */
export function checkRetention(k: unknown): asserts k is number {
  if (typeof k !== "number" || !Number.isSafeInteger(k) || k < 1) {
    throw new InvalidRequestError(`Invalid retention ${String(k)}: expected an integer >= 1`);
  }
}

/** Most consumer nodes a dataset declares. */
export const MAX_CONSUMERS = 64;

/**
 * Throws `InvalidRequestError` unless `v` lists consumer node names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConsumers } from "./validate.ts";
 * checkConsumers(["node-b", "node-c"]);
 * assert.throws(() => checkConsumers("node-b"), {
 *   message: "Invalid consumers \"node-b\": expected a list of at most 64 node names",
 * });
 * ```
 */
export function checkConsumers(v: unknown): asserts v is readonly string[] {
  if (!Array.isArray(v) || v.length > MAX_CONSUMERS) {
    throw new InvalidRequestError(
      `Invalid consumers ${
        JSON.stringify(v)?.slice(0, 140)
      }: expected a list of at most ${MAX_CONSUMERS} node names`,
    );
  }
  for (const name of v) checkName("node", name);
}

/**
 * Throws `InvalidRequestError` when a description is too large to store.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDescriptionSize } from "./validate.ts";
 * checkDescriptionSize("dataset { var x float64 }");
 * checkDescriptionSize("é".repeat(16000)); // 32,000 bytes
 * assert.throws(() => checkDescriptionSize("x".repeat(40000)), { code: "invalid_request" });
 * assert.throws(() => checkDescriptionSize("é".repeat(17000)), { code: "invalid_request" });
 * ```
 */
export function checkDescriptionSize(text: string): void {
  // A UTF-16 unit takes at most 3 UTF-8 bytes: short text is within the limit uncounted.
  if (text.length * 3 <= MAX_DESCRIPTION_BYTES) return;
  const bytes = new TextEncoder().encode(text).byteLength;
  if (bytes > MAX_DESCRIPTION_BYTES) {
    throw new InvalidRequestError(
      `Description too large: expected at most ${MAX_DESCRIPTION_BYTES} bytes, received ${bytes}`,
    );
  }
}

/**
 * Throws `InvalidRequestError` when a description given as text or in its
 * JSON form is too large, before anything compiles it: text over
 * `MAX_DESCRIPTION_BYTES`, JSON over `MAX_DESCRIPTION_JSON_BYTES`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDescriptionInput } from "./validate.ts";
 * checkDescriptionInput({ description: "dataset { var x float64 }" });
 * assert.throws(() => checkDescriptionInput({ description: "x".repeat(300_000) }), {
 *   message: "Description too large: expected at most 32768 bytes, received 300000",
 * });
 * assert.throws(() => checkDescriptionInput({ descriptionJson: { vars: ["x".repeat(300_000)] } }), {
 *   code: "invalid_request",
 * });
 * ```
 */
export function checkDescriptionInput(
  input: { readonly description?: unknown; readonly descriptionJson?: unknown },
): void {
  if (typeof input.description === "string") {
    // Every UTF-16 unit takes at least one UTF-8 byte: long text is refused uncounted.
    if (input.description.length > MAX_DESCRIPTION_BYTES) {
      throw new InvalidRequestError(
        `Description too large: expected at most ${MAX_DESCRIPTION_BYTES} bytes, received ${
          input.description.length > 4 * MAX_DESCRIPTION_BYTES
            ? input.description.length
            : new TextEncoder().encode(input.description).byteLength
        }`,
      );
    }
    checkDescriptionSize(input.description);
  }
  const json = input.description !== undefined && typeof input.description !== "string"
    ? input.description
    : input.descriptionJson;
  if (json === undefined) return;
  let text: string | undefined;
  try {
    text = JSON.stringify(json);
  } catch (e) {
    throw new InvalidRequestError(`Invalid description JSON: ${(e as Error).message}`);
  }
  const bytes = text === undefined ? 0 : new TextEncoder().encode(text).byteLength;
  if (bytes > MAX_DESCRIPTION_JSON_BYTES) {
    throw new InvalidRequestError(
      `Description JSON too large: expected at most ${MAX_DESCRIPTION_JSON_BYTES} bytes, received ${bytes}`,
    );
  }
}

/**
 * Throws `InvalidRequestError` when `value` as JSON takes more than `max`
 * bytes (default `MAX_STORED_JSON_BYTES`): what is stored must fit a Deno
 * KV value. `what` names it in the message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkJsonSize } from "./validate.ts";
 * checkJsonSize("pipeline 'p'", { args: { bins: 8 } });
 * assert.throws(() => checkJsonSize("pipeline 'p'", { args: "x".repeat(40_000) }), {
 *   message: "Invalid pipeline 'p': expected at most 32768 bytes of JSON, found 40011",
 * });
 * ```
 */
export function checkJsonSize(what: string, value: unknown, max = MAX_STORED_JSON_BYTES): void {
  const text = JSON.stringify(value) ?? "";
  // UTF-16 units are a lower bound of the UTF-8 bytes.
  const bytes = text.length > max ? text.length : new TextEncoder().encode(text).byteLength;
  if (bytes > max) {
    throw new InvalidRequestError(
      `Invalid ${what}: expected at most ${max} bytes of JSON, found ${bytes}`,
    );
  }
}

/**
 * Throws `InvalidRequestError` unless `v` is a non-empty string of at most
 * `max` characters (default `MAX_LABEL_LENGTH`): a tier name, a fragment
 * name, a URL. `what` names it in the message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkLabel } from "./validate.ts";
 * checkLabel("tier name", "memory");
 * assert.throws(() => checkLabel("tier name", "m".repeat(200)), {
 *   message: "Invalid tier name 'mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm...': expected 1 to 128 characters, found 200",
 * });
 * assert.throws(() => checkLabel("tier name", 7), { message: "Invalid tier name 7: expected a string" });
 * ```
 */
export function checkLabel(what: string, v: unknown, max = MAX_LABEL_LENGTH): asserts v is string {
  if (typeof v !== "string") {
    throw new InvalidRequestError(
      `Invalid ${what} ${JSON.stringify(v)?.slice(0, 40) ?? "undefined"}: expected a string`,
    );
  }
  if (v.length === 0 || v.length > max) {
    const shown = v.length > 32 ? `${v.slice(0, 32)}...` : v;
    throw new InvalidRequestError(
      `Invalid ${what} '${shown}': expected 1 to ${max} characters, found ${v.length}`,
    );
  }
}

/**
 * Throws `InvalidRequestError` unless `b` is a region's bindings: an object
 * of at most `MAX_BINDINGS` names (each at most `MAX_LABEL_LENGTH`
 * characters) bound to integers. `what` names the request in the message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkBindings } from "./validate.ts";
 * checkBindings("lookup", { r0: 0, r1: 4 });
 * assert.throws(() => checkBindings("lookup", { r0: "0" }), {
 *   message: "Invalid lookup: binding 'r0' must be an integer, found \"0\"",
 * });
 * assert.throws(() => checkBindings("lookup", null), { code: "invalid_request" });
 * ```
 */
export function checkBindings(
  what: string | (() => string),
  b: unknown,
): asserts b is Readonly<Record<string, number>> {
  if (typeof b !== "object" || b === null || Array.isArray(b)) {
    throw new InvalidRequestError(
      `Invalid ${named(what)}: expected bindings as an object of integers, found ${
        JSON.stringify(b)?.slice(0, 40) ?? "undefined"
      }`,
    );
  }
  // Own keys walked in place (`Object.entries` built an array of pairs per call).
  let count = 0;
  for (const k in b) {
    if (!Object.hasOwn(b, k)) continue;
    if (++count > MAX_BINDINGS) {
      throw new InvalidRequestError(
        `Invalid ${named(what)}: expected at most ${MAX_BINDINGS} bindings, found ${
          Object.keys(b).length
        }`,
      );
    }
    if (k.length === 0 || k.length > MAX_LABEL_LENGTH) {
      throw new InvalidRequestError(
        `Invalid ${
          named(what)
        }: a binding name has 1 to ${MAX_LABEL_LENGTH} characters, found ${k.length}`,
      );
    }
    const v = (b as Record<string, unknown>)[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v)) {
      throw new InvalidRequestError(
        `Invalid ${named(what)}: binding '${k}' must be an integer, found ${
          JSON.stringify(v)?.slice(0, 40) ?? "undefined"
        }`,
      );
    }
  }
}

/** What a refusal names: `what`, or its text made only then (a publish's, naming its fragment). */
function named(what: string | (() => string)): string {
  return typeof what === "string" ? what : what();
}

/**
 * Names of the description's size variables (those sizing an array).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription } from "../ddl/mod.ts";
 * import { sizeVariables } from "./validate.ts";
 * const ds = compileDescription("dataset { var n int64\n var x [n]float64 }");
 * assert.deepEqual([...sizeVariables(ds)], ["n"]);
 * ```
 */
export function sizeVariables(ds: Dataset): Set<string> {
  const out = new Set<string>();
  for (const v of ds.variables.values()) {
    for (const d of v.dims) if (typeof d !== "number") out.add(d.sizeVar);
  }
  return out;
}

/**
 * Throws unless `sizes` binds only size variables of `ds`, each to a
 * non-negative integer. (Missing ones are reported by the layout.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription } from "../ddl/mod.ts";
 * import { checkSizes } from "./validate.ts";
 * const ds = compileDescription("dataset { var n int64\n var x [n]float64 }");
 * checkSizes(ds, { n: 8 });
 * assert.throws(() => checkSizes(ds, { m: 8 }), { code: "invalid_layout" });
 * ```
 */
export function checkSizes(ds: Dataset, sizes: Readonly<Record<string, unknown>>): void {
  const entries = Object.entries(sizes);
  if (entries.length === 0) return;
  const known = sizeVariables(ds);
  for (const [k, v] of entries) {
    if (!known.has(k)) {
      const list = known.size === 0 ? "none" : [...known].map((s) => `'${s}'`).join(", ");
      throw new LayoutError(
        `Unknown size variable '${k}': the dataset's size variables are ${list}`,
      );
    }
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      throw new LayoutError(
        `Invalid size '${k}': expected a non-negative integer, found ${String(v)}`,
      );
    }
  }
}

/** A publish or attach region once its bindings are checked. */
export interface Region {
  /** The fragment's own parameters (size variables removed): what names the region. */
  readonly params: Readonly<Record<string, number>>;
  /** Everything to lay the fragment out with: the known sizes, those bound, and the parameters. */
  readonly layoutBindings: Readonly<Record<string, number>>;
  /**
   * Size variables the bindings give that `sizes` does not know: a version's
   * sizes, read from its published bytes by the runtime that publishes it.
   */
  readonly sizes: Readonly<Record<string, number>>;
}

/**
 * Separates a region's bindings into the fragment's parameters and size
 * variables. A size variable known in `sizes` (given when the dataset was
 * created, or recorded for the version) may be bound only to that value, so
 * two spellings of one region name the same region; one not known there
 * must be a positive integer, and is returned in `sizes`. `options.where`
 * names what `sizes` belong to in messages (default `this dataset`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { regionOf } from "./validate.ts";
 * const r = regionOf({ n: 8, r0: 2 }, new Set(["n"]), { n: 8 });
 * assert.deepEqual(r.params, { r0: 2 });
 * assert.deepEqual(r.layoutBindings, { n: 8, r0: 2 });
 * assert.throws(() => regionOf({ n: 9 }, new Set(["n"]), { n: 8 }), { code: "invalid_layout" });
 * assert.deepEqual(regionOf({ n: 9 }, new Set(["n"]), {}).sizes, { n: 9 });
 * ```
 */
export function regionOf(
  bindings: Readonly<Record<string, number>>,
  sizeVars: ReadonlySet<string>,
  sizes: Readonly<Record<string, number>>,
  options: { readonly where?: string } = {},
): Region {
  const params: Record<string, number> = {};
  const fresh: Record<string, number> = {};
  for (const [k, v] of Object.entries(bindings)) {
    if (!sizeVars.has(k)) {
      params[k] = v;
      continue;
    }
    const known = sizes[k];
    if (known === undefined) {
      if (!Number.isSafeInteger(v) || v < 1) {
        throw new LayoutError(`Size variable '${k}' must be a positive integer, found ${v}`);
      }
      fresh[k] = v;
    } else if (known !== v) {
      throw new LayoutError(
        `Size variable '${k}' is ${known} in ${options.where ?? "this dataset"}, found ${v}`,
      );
    }
  }
  return { params, layoutBindings: { ...sizes, ...fresh, ...params }, sizes: fresh };
}
