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
let loaded: Promise<Loaded> | undefined;

/** The library, its module, and what the library printed on standard error since last asked. */
interface Loaded {
  readonly lib: H5Wasm;
  readonly module: H5Module;
  readonly errors: () => string;
}

/**
 * Loads the library and its wasm module at the first HDF5 request, not when
 * a process starts: a process that never reads or writes HDF5 does not
 * compile the wasm (a name server started 0.23 s, of which the wasm took a
 * part, and its CPU profiles showed it). Later calls share it.
 */
function load(): Promise<Loaded> {
  loaded ??= import("h5wasm").then(async ({ default: lib }) => {
    const module = await lib.ready;
    return { lib, module, errors: captureStderr(module) };
  });
  return loaded;
}

/** The parts of Emscripten's file system that redirecting standard error needs. */
interface StreamFs {
  open(path: string, flags: string): { position: number };
  streams: unknown[];
  readFile(path: string, options: { encoding: "utf8" }): string;
  truncate(path: string, length: number): void;
}

/**
 * Points the library's standard error (file descriptor 2 of its C runtime)
 * at a file of its in-memory file system, and returns a function that
 * answers what was written there since it was last called. The library
 * prints each error's stack on standard error, a score of lines for one
 * damaged file, and throws only "error - name not defined!": the stack is
 * taken back to say what went wrong, and nothing reaches the service's
 * own standard error. (h5wasm's throwing error handler says the same, but
 * it skips the library's cleanup: each damaged file leaked about 100 KB of
 * the wasm heap.)
 */
function captureStderr(module: H5Module): () => string {
  const fs = module.FS as unknown as StreamFs;
  const path = "/strata-hdf5-stderr";
  const stream = fs.open(path, "w+");
  fs.streams[2] = stream;
  return () => {
    const text = fs.readFile(path, { encoding: "utf8" });
    if (text.length > 0) {
      fs.truncate(path, 0);
      stream.position = 0;
    }
    return text;
  };
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
  const { lib, module, errors } = await load();
  errors();
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
  const { lib, module, errors } = await load();
  errors();
  const path = `/strata-in-${++counter}.h5`;
  module.FS.writeFile(path, bytes);
  try {
    const file = new lib.File(path, "r");
    try {
      return read(file, module);
    } finally {
      file.close();
    }
  } catch (e) {
    // The library's own account of the fault, when it printed one.
    const printed = errors();
    throw printed.includes("HDF5-DIAG") ? new Error(printed, { cause: e }) : e;
  } finally {
    module.FS.unlink(path);
  }
}
