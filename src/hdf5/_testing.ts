/**
 * Test helpers: h5py (Debian's python3-h5py, run as /usr/bin/python3) as the
 * independent reader and writer of HDF5 files, and the values of a buffer
 * read through its layout, keyed the same way on both sides.
 *
 * @module
 */

import type { FragmentLayout, ScalarType } from "../transform/mod.ts";

/** The Python that has Debian's h5py (a pyenv python may come first on PATH). */
export const PYTHON = "/usr/bin/python3";

/** Why h5py cannot run here, or undefined when it can (then tests use it). */
export async function h5pyMissing(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", "import h5py, numpy"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.success) return undefined;
    return new TextDecoder().decode(out.stderr).trim().split("\n").pop();
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * `flatten(path)` in Python: every value of every dataset of an HDF5 file,
 * keyed `name/field.path` (`name/` for a dataset of scalars, `field[k]` for
 * the k-th scalar of an array member); integers as decimal strings, floats
 * as numbers, strings decoded as Latin-1.
 */
export const FLATTEN_PY = `
import h5py, json, numpy as np
def values(a):
    a = np.asarray(a).reshape(-1)
    if a.dtype.kind in "iub": return [str(int(x)) for x in a]
    if a.dtype.kind == "f": return [float(x) for x in a]
    if a.dtype.kind == "S": return [bytes(x).decode("latin-1") for x in a]
    raise TypeError(str(a.dtype))
def walk(out, key, a, dt):
    if dt.names is None:
        if dt.shape:
            n = int(np.prod(dt.shape))
            flat = np.asarray(a).reshape(-1, n)
            for k in range(n): out[f"{key}[{k}]"] = values(flat[:, k])
        else: out[key] = values(a)
        return
    for name in dt.names:
        walk(out, (key + "." if not key.endswith("/") else key) + name, a[name], dt.fields[name][0])
def flatten(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                a = obj[()]
                walk(out, name.replace("/", "_") + "/", a, obj.dtype)
        f.visititems(visit)
    return out
`;

/** Runs a Python program with h5py; returns its standard output. */
export async function python(program: string, args: readonly string[] = []): Promise<string> {
  const out = await new Deno.Command(PYTHON, {
    args: ["-c", program, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (!out.success) throw new Error(`python failed: ${text.decode(out.stderr)}`);
  return text.decode(out.stdout);
}

/** The values of `bytes` read through `layout`, keyed as `FLATTEN_PY` keys them. */
export function flattenLayout(
  layout: FragmentLayout,
  bytes: Uint8Array,
): Record<string, (string | number)[]> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, (string | number)[]> = {};
  for (const slot of layout.slots) {
    const shape = slot.axes.map((a) => a.count);
    const total = shape.reduce((p, n) => p * n, 1);
    for (const f of slot.fields) {
      const size = typeof f.type === "string" ? sizeOf(f.type) : f.type.size;
      for (let k = 0; k < f.count; k++) {
        const key = f.path === ""
          ? `${slot.variable}/`
          : f.count === 1
          ? `${slot.variable}/${f.path}`
          : `${slot.variable}/${f.path}[${k}]`;
        for (let e = 0; e < total; e++) {
          let at = f.offset;
          let rest = e;
          for (let d = shape.length - 1; d >= 0; d--) {
            at += (rest % shape[d]!) * f.strides[d]!;
            rest = Math.floor(rest / shape[d]!);
          }
          // A plain variable's inner array is one more axis: its scalars in element order.
          const bucket = f.path === "" ? e * f.count + k : e;
          (out[key] ??= [])[bucket] = read(view, at + k * size, f.type);
        }
      }
    }
  }
  return out;
}

function sizeOf(t: Exclude<ScalarType, { kind: "string" }>): number {
  return t === "bool" ? 1 : Number(/[0-9]+$/.exec(t)![0]) / 8;
}

function read(view: DataView, at: number, t: ScalarType): string | number {
  if (typeof t !== "string") {
    const n = view.getInt16(at, true);
    return new TextDecoder("latin1").decode(
      new Uint8Array(view.buffer, view.byteOffset + at + 2, n),
    );
  }
  switch (t) {
    case "int8":
      return String(view.getInt8(at));
    case "uint8":
    case "bool":
      return String(view.getUint8(at));
    case "int16":
      return String(view.getInt16(at, true));
    case "uint16":
      return String(view.getUint16(at, true));
    case "int32":
      return String(view.getInt32(at, true));
    case "uint32":
      return String(view.getUint32(at, true));
    case "int64":
      return String(view.getBigInt64(at, true));
    case "uint64":
      return String(view.getBigUint64(at, true));
    case "float32":
      return view.getFloat32(at, true);
    case "float64":
      return view.getFloat64(at, true);
  }
}
