import assert from "node:assert/strict";
import { compileDescription, datasetLayout } from "../ddl/mod.ts";
import { InvalidRequestError, PayloadTooLargeError } from "../errors.ts";
import { fromHdf5 } from "./import.ts";
import { h5module } from "./_h5wasm.ts";
import { FLATTEN_PY, flattenLayout, h5pyMissing, python } from "./_testing.ts";

const missing = await h5pyMissing();
if (missing !== undefined) {
  console.warn(
    `WARNING: h5py (/usr/bin/python3) unavailable, HDF5 import tests skipped: ${missing}`,
  );
}

/** Writes, with h5py and numpy, every numeric type in N-D, compounds (nested, padded) and strings. */
const WRITE_PY = `
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "w") as f:
    for t in ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8"]:
        info = np.iinfo(t) if t[0] in "iu" else np.finfo(t)
        a = np.linspace(float(info.min) / 2, float(info.max) / 2, 24) if t[0] == "f" else \\
            np.array([info.min, info.max] + list(range(22)), dtype=t)
        f["n_" + t] = np.asarray(a, dtype="<" + t).reshape(2, 3, 4)
    f["flags"] = np.array([[True, False], [False, True]])
    pos = np.dtype([("x", "<f4"), ("y", "<f4")])
    p = np.dtype([("id", "<i8"), ("pos", pos), ("v", "<f8", (3,)), ("ok", "?"), ("tag", "S6")])
    a = np.zeros(4, dtype=p)
    a["id"] = [-(2**62), 1, 2, 2**62]
    a["pos"]["x"] = [0.5, 1.5, 2.5, 3.5]; a["pos"]["y"] = [-1, -2, -3, -4]
    a["v"] = np.arange(12).reshape(4, 3) / 8
    a["ok"] = [True, False, True, False]; a["tag"] = [b"a", b"bb", b"cccccc", b""]
    f["particles"] = a
    aligned = np.dtype([("c", "i1"), ("d", "<f8")], align=True)
    b = np.zeros((2, 2), dtype=aligned); b["c"] = [[1, 2], [3, 4]]; b["d"] = [[0.25, 0.5], [0.75, 1]]
    f["padded"] = b
    f.create_group("grid")["z"] = np.arange(5, dtype="<f4")
    f["scalar"] = np.int32(-5)
`;

Deno.test({
  name: "fromHdf5() reads what h5py wrote: every numeric type, N-D, compounds, strings, groups",
  ignore: missing !== undefined,
  fn: async () => {
    await Deno.mkdir("tmp", { recursive: true });
    const path = await Deno.makeTempFile({ dir: "tmp", suffix: ".h5" });
    try {
      await python(WRITE_PY, [path]);
      const imported = await fromHdf5(await Deno.readFile(path), { name: "sim" });
      assert.equal(
        imported.description,
        `dataset sim {
  var flags [2, 2]bool
  var grid_z [5]float32
  var n_f4 [2, 3, 4]float32
  var n_f8 [2, 3, 4]float64
  var n_i1 [2, 3, 4]int8
  var n_i2 [2, 3, 4]int16
  var n_i4 [2, 3, 4]int32
  var n_i8 [2, 3, 4]int64
  var n_u1 [2, 3, 4]uint8
  var n_u2 [2, 3, 4]uint16
  var n_u4 [2, 3, 4]uint32
  var n_u8 [2, 3, 4]uint64
  var padded [2, 2]struct { c int8; d float64 }
  var particles [4]struct { id int64; pos struct { x float32; y float32 }; v [3]float64; ok bool; tag string6 }
  var scalar int32
}`,
      );
      const layout = datasetLayout(compileDescription(imported.description));
      const expected = JSON.parse(
        await python(`${FLATTEN_PY}\nimport sys\nprint(json.dumps(flatten(sys.argv[1])))`, [path]),
      );
      assert.deepEqual(flattenLayout(layout, imported.bytes), expected);
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test("fromHdf5() refuses a file that is not HDF5, naming it", async () => {
  await assert.rejects(fromHdf5(new Uint8Array(64), { name: "x" }), /HDF5/);
});

Deno.test({
  name: "fromHdf5() refuses datasets that decode past maxBytes before reading them",
  ignore: missing !== undefined,
  fn: () =>
    // 8 MiB of zeros, gzip-compressed: a file of a few kilobytes.
    withH5pyFile(
      `    f.create_dataset("small", data=[1.0, 2.0])
    f.create_dataset("z", shape=(1 << 20,), dtype="<f8", chunks=(1 << 16,), compression="gzip")
    f["z"][:] = 0`,
      async (file) => {
        assert.ok(file.byteLength < 1 << 16, `${file.byteLength} bytes`);
        await assert.rejects(
          fromHdf5(file, { name: "bomb", maxBytes: 1 << 20 }),
          (e) =>
            e instanceof PayloadTooLargeError &&
            e.message ===
              "HDF5 dataset '/z' takes 8388608 bytes, over the 1048560 bytes left of the import's limit",
        );
        const whole = await fromHdf5(file, { name: "bomb", maxBytes: 9 << 20 });
        assert.equal(whole.bytes.byteLength, 16 + (8 << 20));
      },
    ),
});

Deno.test({
  name: "fromHdf5() names a damaged file's fault in one line, and reads the next file as before",
  ignore: missing !== undefined,
  fn: () =>
    withH5pyFile(`    f["x"] = [1.0, 2.0, 3.0]`, async (file) => {
      // Cut inside the file's metadata: the library finds addresses past its end.
      const cut = file.slice(0, 800);
      await assert.rejects(fromHdf5(cut, { name: "cut" }), (e) => {
        assert.ok(e instanceof InvalidRequestError, String(e));
        assert.match(e.message, /^Cannot read the HDF5 file: \S/);
        assert.ok(!e.message.includes("\n") && !e.message.includes("HDF5-DIAG"), e.message);
        assert.match(e.message, /\(truncated file: eof = 800, .*\)$/);
        return true;
      });
      // Refusals leave nothing behind in the library's heap.
      const heap = (await h5module()).HEAPU8.length;
      for (let i = 0; i < 300; i++) await fromHdf5(cut, { name: "cut" }).catch(() => {});
      assert.equal((await h5module()).HEAPU8.length, heap);
      const back = await fromHdf5(file, { name: "again" });
      assert.deepEqual([...new Float64Array(back.bytes.buffer)], [1, 2, 3]);
    }),
});

/** Runs `fn` on a file h5py wrote with `program` (the file's path is `sys.argv[1]`), then removes it. */
async function withH5pyFile(
  program: string,
  fn: (file: Uint8Array) => Promise<void>,
): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const path = await Deno.makeTempFile({ dir: "tmp", suffix: ".h5" });
  try {
    await python(`import h5py, sys\nwith h5py.File(sys.argv[1], "w") as f:\n${program}`, [path]);
    await fn(await Deno.readFile(path));
  } finally {
    await Deno.remove(path);
  }
}
