/**
 * h5wasm (the HDF5 C library compiled to WebAssembly) behind two helpers that
 * hand whole files in and out as bytes. The library keeps files in its own
 * in-memory file system (Emscripten's MEMFS, inside the wasm heap), so it
 * needs no Deno permission: no file, network or environment access.
 *
 * @module
 */

import type { File as H5File } from "h5wasm";

/** The h5wasm library. */
type H5Wasm = typeof import("h5wasm").default;

/** The loaded wasm module (HDF5's C API as exported by h5wasm, and its MEMFS). */
export type H5Module = Awaited<H5Wasm["ready"]>;

let counter = 0;
let loaded: Promise<{ lib: H5Wasm; module: H5Module }> | undefined;

/**
 * Loads the library and its wasm module at the first HDF5 request, not when
 * a process starts: a process that never reads or writes HDF5 does not
 * compile the wasm (a name server started 0.23 s, of which the wasm took a
 * part, and its CPU profiles showed it). Later calls share it.
 */
function load(): Promise<{ lib: H5Wasm; module: H5Module }> {
  loaded ??= import("h5wasm").then(async ({ default: lib }) => ({ lib, module: await lib.ready }));
  return loaded;
}

/** Loads the wasm module once; later calls share it. */
export async function h5module(): Promise<H5Module> {
  return (await load()).module;
}

/**
 * Runs `write` on a new empty HDF5 file and returns the file's bytes. The
 * file lives in MEMFS under a name no other call uses, and is removed.
 */
export async function writeHdf5(
  write: (file: H5File, module: H5Module) => void,
): Promise<Uint8Array> {
  const { lib, module } = await load();
  const path = `/strata-out-${++counter}.h5`;
  // Everything below is synchronous: no other call runs inside the wasm heap meanwhile.
  const file = new lib.File(path, "w");
  try {
    write(file, module);
  } finally {
    file.close();
  }
  try {
    return module.FS.readFile(path);
  } finally {
    module.FS.unlink(path);
  }
}

/** Opens `bytes` as an HDF5 file for `read`, then removes it from MEMFS. */
export async function readHdf5<T>(
  bytes: Uint8Array,
  read: (file: H5File, module: H5Module) => T,
): Promise<T> {
  const { lib, module } = await load();
  const path = `/strata-in-${++counter}.h5`;
  module.FS.writeFile(path, bytes);
  // HDF5 reports a malformed file's errors by throwing them, not on stderr.
  module.activate_throwing_error_handler();
  try {
    const file = new lib.File(path, "r");
    try {
      return read(file, module);
    } finally {
      file.close();
    }
  } finally {
    module.deactivate_throwing_error_handler();
    module.FS.unlink(path);
  }
}
