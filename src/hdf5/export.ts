/**
 * A committed version of a dataset as an HDF5 file: one HDF5 dataset per
 * variable, with the variable's shape and its element as a compound type
 * (structs nest), and the dataset name, version, description and lineage
 * as attributes of the file's root group. See docs/hdf5.md.
 *
 * @module
 */

import { compilePlan, executePlan, type FieldSlot, type FragmentLayout } from "../transform/mod.ts";
import { writeHdf5 } from "./_h5wasm.ts";
import { packedLayout, type PackedVariable } from "./_packed.ts";
import { H5T, scalarMeta, type TypeMeta, writeDataset } from "./_types.ts";

/** What an export writes. */
export interface ExportInput {
  /** Dataset name (root attribute `dataset`). */
  readonly dataset: string;
  /** The committed version (root attribute `version`, int64). */
  readonly version: number;
  /** The description in the data language (root attribute `description`). */
  readonly description: string;
  /** Layout of `bytes`: the dataset's layout (fragment `dataset`). */
  readonly layout: FragmentLayout;
  /** The version's bytes in `layout`. */
  readonly bytes: Uint8Array;
  /** Where the version came from (root attribute `lineage`, JSON), when a function made it. */
  readonly lineage?: unknown;
}

/** The media type of an HDF5 file. */
export const HDF5_MEDIA_TYPE = "application/x-hdf5";

/**
 * Writes a version's bytes as an HDF5 file and returns the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileDescription, datasetLayout } from "../ddl/mod.ts";
 * import { fromHdf5, toHdf5 } from "./mod.ts";
 * const description = "dataset d { var t [2, 3]float64 }";
 * const bytes = new Uint8Array(new Float64Array([1, 2, 3, 4, 5, 6]).buffer);
 * const layout = datasetLayout(compileDescription(description));
 * const file = await toHdf5({ dataset: "d", version: 4, description, layout, bytes });
 * assert.deepEqual([...file.subarray(1, 4)], [..."HDF"].map((c) => c.charCodeAt(0)));
 * const back = await fromHdf5(file, { name: "d" });
 * assert.equal(back.description, "dataset d {\n  var t [2, 3]float64\n}");
 * assert.deepEqual(back.bytes, bytes);
 * ```
 */
export async function toHdf5(input: ExportInput): Promise<Uint8Array> {
  const packed = packedLayout(input.layout);
  const buffer = new Uint8Array(packed.layout.byteLength);
  executePlan(compilePlan([input.layout], packed.layout), [input.bytes], buffer);
  return await writeHdf5((file, module) => {
    file.create_attribute("dataset", input.dataset);
    file.create_attribute("version", BigInt64Array.of(BigInt(input.version)), [], "<q");
    file.create_attribute("description", input.description);
    if (input.lineage !== undefined) {
      file.create_attribute("lineage", JSON.stringify(input.lineage));
    }
    for (const v of packed.variables) {
      const count = v.shape.reduce((p, n) => p * n, 1);
      const bytes = buffer.subarray(v.offset, v.offset + v.elementSize * count);
      clearStringTails(bytes, v);
      writeDataset(module, file, `/${v.name}`, elementOf(v, bytes));
    }
  });
}

/** The HDF5 type, shape and bytes of one packed variable. */
function elementOf(
  v: PackedVariable,
  bytes: Uint8Array,
): { meta: TypeMeta; shape: readonly number[]; bytes: Uint8Array } {
  const only = v.fields[0]!;
  if (v.fields.length === 1 && only.path === "") {
    // A scalar element (or an inner array of scalars: one more axis).
    const shape = only.count === 1 ? v.shape : [...v.shape, only.count];
    if (typeof only.type === "string") return { meta: scalarMeta(only.type), shape, bytes };
    // A string without its length prefix: HDF5's fixed-size strings have none.
    const n = only.type.size - 2;
    const out = new Uint8Array((bytes.byteLength / only.type.size) * n);
    for (let i = 0, o = 0; o < out.byteLength; i += only.type.size, o += n) {
      out.set(bytes.subarray(i + 2, i + 2 + n), o);
    }
    return { meta: scalarMeta(only.type), shape, bytes: out };
  }
  return { meta: compoundOf(v.fields, v.elementSize), shape: v.shape, bytes };
}

interface Node {
  readonly name: string;
  readonly children: Node[];
  leaf?: FieldSlot;
}

/**
 * The compound type of an element from its leaf paths (`pos.x`, `m[0].a`):
 * one member per path segment, nested; an inner array of scalars is one
 * member per scalar, `v[0]`, `v[1]`, ... (h5wasm writes no array members);
 * a string member skips its 2 length bytes.
 */
function compoundOf(fields: readonly FieldSlot[], size: number): TypeMeta {
  const root: Node = { name: "", children: [] };
  for (const f of fields) {
    let node = root;
    for (const segment of f.path.split(".")) {
      let next = node.children.find((c) => c.name === segment);
      if (next === undefined) node.children.push(next = { name: segment, children: [] });
      node = next;
    }
    node.leaf = f;
  }
  return compound(root, 0, size);
}

function compound(node: Node, base: number, size: number): TypeMeta {
  const members: (TypeMeta & { name: string; offset: number })[] = [];
  for (const child of node.children) {
    const f = child.leaf;
    if (f === undefined) {
      const [start, end] = extent(child);
      members.push({
        ...compound(child, start, end - start),
        name: child.name,
        offset: start - base,
      });
      continue;
    }
    const meta = scalarMeta(f.type);
    const step = typeof f.type === "string" ? meta.size : f.type.size;
    const skip = typeof f.type === "string" ? 0 : 2;
    for (let i = 0; i < f.count; i++) {
      const name = f.count === 1 ? child.name : `${child.name}[${i}]`;
      members.push({ ...meta, name, offset: f.offset + i * step + skip - base });
    }
  }
  return {
    type: H5T.COMPOUND,
    size,
    signed: false,
    littleEndian: true,
    vlen: false,
    compound_type: { members, nmembers: members.length },
  };
}

/** First and last byte (exclusive) of a struct's leaves in the element. */
function extent(node: Node): [number, number] {
  let start = Infinity;
  let end = 0;
  const walk = (n: Node) => {
    if (n.leaf !== undefined) {
      const size = typeof n.leaf.type === "string"
        ? scalarMeta(n.leaf.type).size
        : n.leaf.type.size;
      start = Math.min(start, n.leaf.offset);
      end = Math.max(end, n.leaf.offset + size * n.leaf.count);
    }
    n.children.forEach(walk);
  };
  walk(node);
  return [start, end];
}

/** Zeroes each string's bytes past its length, so HDF5 readers see the string and no stale bytes. */
function clearStringTails(bytes: Uint8Array, v: PackedVariable): void {
  const strings = v.fields.filter((f) => typeof f.type !== "string");
  if (strings.length === 0) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let e = 0; e < bytes.byteLength; e += v.elementSize) {
    for (const f of strings) {
      const size = (f.type as { size: number }).size;
      for (let i = 0; i < f.count; i++) {
        const at = e + f.offset + i * size;
        const length = Math.min(Math.max(view.getInt16(at, true), 0), size - 2);
        bytes.fill(0, at + 2 + length, at + size);
      }
    }
  }
}
