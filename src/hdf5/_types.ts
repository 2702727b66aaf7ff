/**
 * HDF5 datatypes in h5wasm's metadata form, and the raw calls that write a
 * dataset or read one as bytes in its file type (h5wasm's high-level API
 * copies through JavaScript arrays and writes no fixed-size arrays in
 * compounds; these take and give the packed bytes as they are).
 *
 * @module
 */

import type { File as H5File } from "h5wasm";
import { PayloadTooLargeError } from "../errors.ts";
import type { ScalarType } from "../transform/mod.ts";
import type { H5Module } from "./_h5wasm.ts";

/** HDF5 type classes (`H5T_class_t`). */
export const H5T = {
  INTEGER: 0,
  FLOAT: 1,
  STRING: 3,
  COMPOUND: 6,
  ENUM: 8,
  ARRAY: 10,
} as const;

/** A datatype as h5wasm describes it (the fields Strata reads or writes). */
export interface TypeMeta {
  readonly type: number;
  readonly size: number;
  readonly signed: boolean;
  readonly littleEndian: boolean;
  readonly vlen: boolean;
  readonly cset?: number;
  readonly compound_type?: {
    readonly members: readonly (TypeMeta & { readonly name: string; readonly offset: number })[];
    readonly nmembers: number;
  };
  readonly array_type?: TypeMeta;
  readonly enum_type?: {
    readonly members: Readonly<Record<string, number>>;
    readonly type: number;
  };
  readonly shape?: readonly number[] | null;
}

/** The HDF5 type of one Strata scalar: bool as uint8, stringN as N fixed ASCII bytes. */
export function scalarMeta(t: ScalarType): TypeMeta {
  const base = { signed: false, littleEndian: true, vlen: false };
  if (typeof t !== "string") return { ...base, type: H5T.STRING, size: t.size - 2, cset: 0 };
  switch (t) {
    case "float32":
      return { ...base, type: H5T.FLOAT, size: 4 };
    case "float64":
      return { ...base, type: H5T.FLOAT, size: 8 };
    case "bool":
      return { ...base, type: H5T.INTEGER, size: 1 };
    default: {
      const size = Number(/[0-9]+$/.exec(t)![0]) / 8;
      return { ...base, type: H5T.INTEGER, size, signed: t.startsWith("int") };
    }
  }
}

/** Writes `bytes` (elements of `meta`, packed row-major) as dataset `path` of `shape`. */
export function writeDataset(
  module: H5Module,
  file: H5File,
  path: string,
  options: {
    readonly meta: TypeMeta;
    readonly shape: readonly number[];
    readonly bytes: Uint8Array;
  },
): void {
  const ptr = allocate(module, options.bytes.byteLength);
  try {
    module.HEAPU8.set(options.bytes, ptr);
    const shape = options.shape.map(BigInt);
    const write = {
      ...options.meta,
      shape,
      maxshape: shape,
      chunks: null,
      compression: 0,
      compression_opts: [],
      track_order: false,
    };
    module.create_dataset(
      file.file_id,
      path,
      BigInt(ptr),
      write as unknown as Parameters<H5Module["create_dataset"]>[3],
    );
  } finally {
    module._free(ptr);
  }
}

/**
 * The type, shape and bytes (in the file's type, row-major) of dataset
 * `path`; `PayloadTooLargeError` when they take more than `maxBytes`, told
 * from the dataset's metadata before a byte is read (a compressed dataset
 * can decode to far more than the file holds).
 */
export function readDataset(
  module: H5Module,
  file: H5File,
  path: string,
  maxBytes = Infinity,
): { meta: TypeMeta; shape: number[]; bytes: Uint8Array } {
  const meta = module.get_dataset_metadata(file.file_id, path) as unknown as TypeMeta & {
    readonly total_size: number;
  };
  const shape = [...(meta.shape ?? [])].map(Number);
  const n = meta.size * Number(meta.total_size);
  if (n > maxBytes) {
    throw new PayloadTooLargeError(
      `HDF5 dataset '${path}' takes ${n} bytes, over the ${maxBytes} bytes left of the import's limit`,
      { fields: { dataset: path, bytes: n, limit: maxBytes } },
    );
  }
  const ptr = allocate(module, Math.max(n, 1));
  try {
    if (n > 0) module.get_dataset_data(file.file_id, path, null, null, null, BigInt(ptr));
    return { meta, shape, bytes: module.HEAPU8.slice(ptr, ptr + n) };
  } finally {
    module._free(ptr);
  }
}

function allocate(module: H5Module, n: number): number {
  const ptr = n > module.MAXIMUM_MEMORY ? 0 : module._malloc(n);
  if (ptr === 0) {
    throw new PayloadTooLargeError(
      `Cannot hold ${n} bytes in the HDF5 library's memory: its WebAssembly heap holds at most ${module.MAXIMUM_MEMORY} bytes with the file`,
    );
  }
  return ptr;
}
