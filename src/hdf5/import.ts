/**
 * A dataset from an HDF5 file: each HDF5 dataset (in any group) becomes a
 * variable of the same shape, its compound type a struct, its bytes the
 * variable's in version 1. See docs/hdf5.md.
 *
 * @module
 */

import type { Group as H5Group } from "h5wasm";
import { compileDescription, datasetLayout } from "../ddl/mod.ts";
import { InvalidRequestError, StrataError } from "../errors.ts";
import { compilePlan, executePlan } from "../transform/mod.ts";
import { readHdf5 } from "./_h5wasm.ts";
import { packedLayout } from "./_packed.ts";
import { H5T, readDataset, type TypeMeta } from "./_types.ts";

/** A dataset made from an HDF5 file. */
export interface Imported {
  /** Its description in the data language: one variable per HDF5 dataset. */
  readonly description: string;
  /** Its bytes in the dataset's layout (fragment `dataset`), to publish as version 1. */
  readonly bytes: Uint8Array;
  /** Each variable and the HDF5 dataset it comes from. */
  readonly variables: readonly { readonly name: string; readonly path: string }[];
}

/**
 * Reads an HDF5 file into a description and the bytes of its dataset.
 * Integers, floats, fixed-size strings, h5py's booleans, compounds (nested)
 * and arrays of numbers inside compounds are read; anything else (variable
 * length strings, references, big-endian data, empty datasets) is refused
 * with a `StrataError` (`invalid_request`) naming the HDF5 dataset. The
 * datasets' bytes together may take at most `maxBytes` (default: no bound
 * but the library's heap), checked before each is read:
 * `PayloadTooLargeError` past it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout } from "../ddl/mod.ts";
 * import { fromHdf5, toHdf5 } from "./mod.ts";
 * const description = "dataset p { var p [2]struct { id int32; e float32 } }";
 * const bytes = new Uint8Array(16);
 * new DataView(bytes.buffer).setInt32(8, 7, true);
 * const layout = datasetLayout(compileDescription(description));
 * const file = await toHdf5({ dataset: "p", version: 1, description, layout, bytes });
 * const back = await fromHdf5(file, { name: "copy" });
 * assert.equal(back.description, "dataset copy {\n  var p [2]struct { id int32; e float32 }\n}");
 * assert.deepEqual(back.variables, [{ name: "p", path: "/p" }]);
 * assert.deepEqual(back.bytes, bytes);
 * ```
 */
export async function fromHdf5(
  file: Uint8Array,
  options: { readonly name: string; readonly maxBytes?: number },
): Promise<Imported> {
  if (!hasSignature(file)) {
    throw new InvalidRequestError(
      "Cannot read the HDF5 file: no HDF5 signature at byte 0, 512, 1024, ...: not an HDF5 file",
    );
  }
  const read = await (readHdf5(file, (f, module) => {
    const out: {
      name: string;
      path: string;
      meta: TypeMeta;
      shape: number[];
      bytes: Uint8Array;
    }[] = [];
    const names = new Set<string>();
    let left = options.maxBytes ?? Infinity;
    for (const path of datasetPaths(f)) {
      const d = readDataset(module, f, path, left);
      left -= d.bytes.byteLength;
      out.push({ ...d, path, name: unique(identifier(path.slice(1).replaceAll("/", "_")), names) });
    }
    return out;
  })).catch((e: unknown) => {
    if (e instanceof StrataError) throw e;
    throw new InvalidRequestError(`Cannot read the HDF5 file: ${hdf5Reason(e)}`, { cause: e });
  });
  if (read.length === 0) {
    throw new InvalidRequestError("Cannot import the HDF5 file: it holds no dataset");
  }
  const vars = read.map((d) => {
    if (d.shape.some((n) => n === 0)) {
      throw new InvalidRequestError(
        `Cannot import HDF5 dataset '${d.path}': it is empty (shape ${d.shape.join(" x ")})`,
      );
    }
    const type = typeText(d.meta, d.path);
    return `  var ${d.name} ${d.shape.length === 0 ? "" : `[${d.shape.join(", ")}]`}${type}`;
  });
  const title = /^[A-Za-z_][A-Za-z0-9_]*$/.test(options.name) && !KEYWORDS.has(options.name)
    ? `dataset ${options.name}`
    : "dataset";
  const description = `${title} {\n${vars.join("\n")}\n}`;
  const layout = datasetLayout(compileDescription(description));
  const packed = packedLayout(layout);
  const buffer = new Uint8Array(packed.layout.byteLength);
  read.forEach((d, i) => {
    const v = packed.variables[i]!;
    const leaves = leavesOf(d.meta, "", 0);
    const count = d.shape.reduce((p, n) => p * n, 1);
    for (let e = 0; e < count; e++) {
      const src = e * d.meta.size;
      const dst = v.offset + e * v.elementSize;
      let at = 0;
      for (const leaf of leaves) {
        copyLeaf(d.bytes, src + leaf.offset, buffer, dst + at, leaf);
        at += leaf.strataSize;
      }
    }
  });
  const bytes = new Uint8Array(layout.byteLength);
  executePlan(compilePlan([packed.layout], layout), [buffer], bytes);
  return { description, bytes, variables: read.map((d) => ({ name: d.name, path: d.path })) };
}

/** HDF5's format signature, at 0 or a power of two from 512 (after a user block). */
function hasSignature(file: Uint8Array): boolean {
  const signature = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  for (let at = 0; at + 8 <= file.byteLength; at = at === 0 ? 512 : at * 2) {
    if (signature.every((b, i) => file[at + i] === b)) return true;
  }
  return false;
}

/** Every dataset of the file, depth first in the order the file lists them. */
function datasetPaths(group: H5Group): string[] {
  const out: string[] = [];
  for (const key of group.keys()) {
    const entity = group.get(key);
    const path = `${group.path === "/" ? "" : group.path}/${key}`;
    if (entity === null) continue;
    if ("keys" in entity && typeof (entity as H5Group).keys === "function") {
      out.push(...datasetPaths(entity as H5Group));
    } else if ("metadata" in entity) out.push(path);
  }
  return out;
}

/** The type of an HDF5 element in the data language. */
function typeText(meta: TypeMeta, path: string): string {
  if (
    !meta.littleEndian && meta.size > 1 && meta.type !== H5T.STRING && meta.type !== H5T.COMPOUND &&
    meta.type !== H5T.ARRAY
  ) {
    throw refused(path, "big-endian data");
  }
  switch (meta.type) {
    case H5T.INTEGER:
      if (![1, 2, 4, 8].includes(meta.size)) throw refused(path, `${meta.size}-byte integers`);
      return `${meta.signed ? "int" : "uint"}${meta.size * 8}`;
    case H5T.FLOAT:
      if (meta.size !== 4 && meta.size !== 8) throw refused(path, `${meta.size}-byte floats`);
      return `float${meta.size * 8}`;
    case H5T.ENUM:
      if (isBool(meta)) return "bool";
      return typeText({ ...meta, type: H5T.INTEGER }, path);
    case H5T.STRING:
      if (meta.vlen) throw refused(path, "variable-length strings (store fixed-length ones)");
      return `string${meta.size}`;
    case H5T.COMPOUND: {
      const names = new Set<string>();
      const fields = meta.compound_type!.members.map((m) =>
        `${unique(identifier(m.name), names)} ${typeText(m, `${path}.${m.name}`)}`
      );
      return `struct { ${fields.join("; ")} }`;
    }
    case H5T.ARRAY: {
      const element = meta.array_type!;
      if (
        element.type === H5T.COMPOUND || element.type === H5T.ARRAY || element.type === H5T.STRING
      ) {
        throw refused(path, "arrays of compounds or strings inside an element");
      }
      return `[${(element.shape ?? meta.shape ?? []).join(", ")}]${typeText(element, path)}`;
    }
    default:
      throw refused(path, `HDF5 type class ${meta.type}`);
  }
}

interface Leaf {
  /** Offset in the HDF5 element. */
  readonly offset: number;
  /** Bytes in the HDF5 element. */
  readonly size: number;
  /** Bytes in the Strata element. */
  readonly strataSize: number;
  readonly kind: "copy" | "string" | "bool";
}

/** The element's leaves in declaration order, as Strata packs them. */
function leavesOf(meta: TypeMeta, _path: string, offset: number): Leaf[] {
  switch (meta.type) {
    case H5T.COMPOUND:
      return meta.compound_type!.members.flatMap((m) => leavesOf(m, "", offset + m.offset));
    case H5T.STRING:
      return [{ offset, size: meta.size, strataSize: meta.size + 2, kind: "string" }];
    case H5T.ENUM:
      if (isBool(meta)) return [{ offset, size: 1, strataSize: 1, kind: "bool" }];
      return [{ offset, size: meta.size, strataSize: meta.size, kind: "copy" }];
    default:
      // Numbers, and arrays of numbers (packed in HDF5 as in Strata).
      return [{ offset, size: meta.size, strataSize: meta.size, kind: "copy" }];
  }
}

function copyLeaf(src: Uint8Array, from: number, dst: Uint8Array, to: number, leaf: Leaf): void {
  if (leaf.kind === "copy") {
    dst.set(src.subarray(from, from + leaf.size), to);
  } else if (leaf.kind === "bool") {
    dst[to] = src[from] === 0 ? 0 : 1;
  } else {
    const chars = src.subarray(from, from + leaf.size);
    const end = chars.indexOf(0);
    const length = end < 0 ? leaf.size : end;
    dst[to] = length & 0xff;
    dst[to + 1] = length >> 8;
    dst.set(chars.subarray(0, length), to + 2);
  }
}

/** h5py stores numpy booleans as an enum of FALSE = 0 and TRUE = 1. */
function isBool(meta: TypeMeta): boolean {
  const m = meta.enum_type?.members ?? {};
  return meta.size === 1 && Object.keys(m).length === 2 && m.FALSE === 0 && m.TRUE === 1;
}

const KEYWORDS = new Set([
  "dataset",
  "const",
  "type",
  "var",
  "struct",
  "fragment",
  "view",
  "replica",
]);

/** A name the data language takes: letters, digits and `_`, not starting with a digit. */
function identifier(name: string): string {
  let id = name.replace(/[^A-Za-z0-9_]/g, "_");
  if (!/^[A-Za-z_]/.test(id)) id = `_${id}`;
  return KEYWORDS.has(id) ? `${id}_` : id;
}

function unique(name: string, taken: Set<string>): string {
  let out = name;
  for (let i = 2; taken.has(out); i++) out = `${name}_${i}`;
  taken.add(out);
  return out;
}

function refused(path: string, what: string): StrataError {
  return new InvalidRequestError(
    `Cannot import HDF5 dataset '${path}': ${what} are not supported`,
  );
}

/**
 * What an HDF5 library error says, in one line: its first error stack's
 * first and last descriptions (`#000: <source> line N in H5Fopen(): unable to
 * open file`), without the library's source paths; other errors' messages
 * as they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hdf5Reason } from "./import.ts";
 * const stack = "HDF5-DIAG: Error detected in HDF5 (2.0.0):\n" +
 *   "  #000: /src/H5L.c line 1607 in H5Literate2(): synchronous link iteration failed\n" +
 *   "    major: Links\n" +
 *   "  #001: /src/H5Gint.c line 811 in H5G_iterate(): error iterating over links\n";
 * assert.equal(hdf5Reason(new Error(stack)), "synchronous link iteration failed (error iterating over links)");
 * ```
 */
export function hdf5Reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  // The first stack is the fault; later ones are the cleanup failing after it.
  const stack = text.split("HDF5-DIAG").find((part) => /#\d+: /.test(part)) ?? text;
  const reasons = [...stack.matchAll(/#\d+: .* in \w+\(\): (.+)/g)].map((m) => m[1]!.trim());
  if (reasons.length === 0) return text.split("\n", 1)[0]!.slice(0, 300);
  const first = reasons[0]!;
  const last = reasons[reasons.length - 1]!;
  return last === first ? first : `${first} (${last})`;
}
