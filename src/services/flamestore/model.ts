/**
 * FlameStore's model records: the weight specs of a model (TensorFlow.js's
 * `weightSpecs`: name, shape, dtype, group, quantization), their byte
 * length, and the signature that a save must match (a hash of each
 * tensor's dtype and shape in order, names left out, as FlameStore's
 * `flamestore/util.py` hashes dtype sizes and shapes). Pure: no I/O.
 *
 * @module
 */

import { InvalidRequestError } from "../../errors.ts";
import { hash32 } from "../hash.ts";

/** One tensor of a model's weights, as TensorFlow.js describes it. */
export interface WeightSpec {
  /** The tensor's name (`dense_1/kernel`). */
  readonly name: string;
  /** Its shape. */
  readonly shape: readonly number[];
  /** Its element type. */
  readonly dtype: "float32" | "int32" | "bool" | "complex64";
  /** Whether it belongs to the model or to its optimizer. */
  readonly group?: "model" | "optimizer";
  /** How its values are quantized in the bytes (their element type then). */
  readonly quantization?: {
    readonly dtype: "uint8" | "uint16" | "float16";
    readonly [k: string]: unknown;
  };
}

/** What a model is registered with: its architecture, training setup and weights' shape. */
export interface ModelSpec {
  /** The architecture (Keras JSON as TensorFlow.js gives it, or any JSON value). */
  readonly topology: unknown;
  /** The training setup (optimizer, loss, metrics), or null. */
  readonly trainingConfig?: unknown;
  /** The tensors of its weights, in the order their bytes follow each other. */
  readonly weightSpecs: readonly WeightSpec[];
}

/** A model as the service stores it. */
export interface ModelRecord extends Required<ModelSpec> {
  /** Its name. */
  readonly name: string;
  /** The hash of its weights' dtypes and shapes, 16 hex digits. */
  readonly signature: string;
  /** Bytes of its weights. */
  readonly byteLength: number;
  /** When it was registered, ms since the epoch. */
  readonly createdAt: number;
  /** How many times its weights were saved (0: never). */
  readonly saves: number;
  /** When they were saved last, ms since the epoch (0: never). */
  readonly savedAt: number;
}

/** Most tensors in one model. */
export const MAX_TENSORS = 100_000;
/** Longest model name, in bytes. */
export const MAX_NAME_BYTES = 256;

const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

const utf8 = new TextEncoder();

/**
 * A model name: 1 to 256 bytes, no `/` (it appears in `strata://` URLs
 * as one segment) and no control characters; `InvalidRequestError` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkModelName } from "./model.ts";
 * assert.equal(checkModelName("lenet5"), "lenet5");
 * assert.throws(() => checkModelName("a/b"), /Invalid model name/);
 * ```
 */
export function checkModelName(name: unknown): string {
  if (
    typeof name !== "string" || name === "" || utf8.encode(name).length > MAX_NAME_BYTES ||
    // deno-lint-ignore no-control-regex
    /[/\u0000-\u001f\u007f]/.test(name)
  ) {
    throw new InvalidRequestError(
      `Invalid model name ${
        JSON.stringify(String(name).slice(0, 80))
      }: expected 1 to ${MAX_NAME_BYTES} bytes without '/' or control characters`,
      { fields: { field: "name" } },
    );
  }
  return name;
}

/**
 * The weight specs of an input, checked: a list of `{name, shape, dtype}`
 * (dtype float32, int32, bool or complex64; `string` tensors have no fixed
 * size and are refused), shapes of non-negative integers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkWeightSpecs } from "./model.ts";
 * const specs = checkWeightSpecs([{ name: "w", shape: [2, 3], dtype: "float32" }]);
 * assert.equal(specs.length, 1);
 * assert.throws(() => checkWeightSpecs([{ name: "s", shape: [1], dtype: "string" }]), /dtype/);
 * ```
 */
export function checkWeightSpecs(input: unknown): WeightSpec[] {
  if (!Array.isArray(input) || input.length > MAX_TENSORS) {
    throw new InvalidRequestError(
      `Invalid field 'weightSpecs': expected a list of at most ${MAX_TENSORS} tensors`,
      { fields: { field: "weightSpecs" } },
    );
  }
  return input.map((s, i): WeightSpec => {
    const bad = (why: string) =>
      new InvalidRequestError(`Invalid weight spec ${i}: ${why}`, {
        fields: { field: "weightSpecs", index: i },
      });
    if (typeof s !== "object" || s === null || Array.isArray(s)) throw bad("expected a mapping");
    const r = s as Record<string, unknown>;
    if (typeof r.name !== "string" || r.name.length > 1024) throw bad("expected a 'name' string");
    if (
      !Array.isArray(r.shape) || r.shape.length > 32 ||
      !r.shape.every((d) => Number.isSafeInteger(d) && d >= 0)
    ) {
      throw bad("expected a 'shape' of at most 32 non-negative integers");
    }
    if (!["float32", "int32", "bool", "complex64"].includes(r.dtype as string)) {
      throw bad(
        `dtype ${
          JSON.stringify(r.dtype)
        } has no fixed size: expected float32, int32, bool or complex64`,
      );
    }
    if (r.group !== undefined && r.group !== "model" && r.group !== "optimizer") {
      throw bad("expected 'group' model or optimizer");
    }
    const q = r.quantization;
    if (q !== undefined) {
      const qd = (q as { dtype?: unknown } | null)?.dtype;
      if (
        typeof q !== "object" || q === null ||
        !["uint8", "uint16", "float16"].includes(qd as string)
      ) {
        throw bad("expected a 'quantization' with dtype uint8, uint16 or float16");
      }
    }
    return {
      name: r.name,
      shape: r.shape as number[],
      dtype: r.dtype as WeightSpec["dtype"],
      ...(r.group === undefined ? {} : { group: r.group as "model" | "optimizer" }),
      ...(q === undefined ? {} : { quantization: q as NonNullable<WeightSpec["quantization"]> }),
    };
  });
}

/**
 * Bytes the weights of `specs` take, back to back (quantized tensors at
 * their quantized size).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { weightBytes } from "./model.ts";
 * assert.equal(weightBytes([{ name: "w", shape: [2, 3], dtype: "float32" }, { name: "b", shape: [3], dtype: "int32" }]), 36);
 * ```
 */
export function weightBytes(specs: readonly WeightSpec[]): number {
  let total = 0;
  for (const s of specs) {
    const count = s.shape.reduce((a, b) => a * b, 1);
    total += count * ELEMENT_BYTES[s.quantization?.dtype ?? s.dtype]!;
    if (!Number.isSafeInteger(total)) {
      throw new InvalidRequestError("Invalid weight specs: their byte length overflows", {
        fields: { field: "weightSpecs" },
      });
    }
  }
  return total;
}

/**
 * The signature of a model's weights: a 64-bit hash, as 16 hex digits, of
 * each tensor's dtype (quantized dtype where quantized) and shape in order;
 * names and groups are left out, so two models of the same architecture
 * with other layer names share it (as in FlameStore).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signatureOf } from "./model.ts";
 * const a = signatureOf([{ name: "dense/kernel", shape: [3, 4], dtype: "float32" }]);
 * assert.equal(a, signatureOf([{ name: "other", shape: [3, 4], dtype: "float32" }]));
 * assert.notEqual(a, signatureOf([{ name: "dense/kernel", shape: [4, 3], dtype: "float32" }]));
 * assert.match(a, /^[0-9a-f]{16}$/);
 * ```
 */
export function signatureOf(specs: readonly WeightSpec[]): string {
  const text = utf8.encode(
    specs.map((s) => `${s.quantization?.dtype ?? s.dtype}:${s.shape.join("x")}`).join(";"),
  );
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  return hex(hash32(text, 0x5eed)) + hex(hash32(text, 0xf1a3e));
}
