/**
 * HDF5 in and out against a real `strata serve`: `strata export` and the
 * export route give files h5py reads value for value; `strata import` and the
 * import route take a file h5py wrote and publish it as version 1.
 */
import assert from "node:assert/strict";
import { runDeno, startServer } from "./_server.ts";
import { FLATTEN_PY, h5pyMissing, python } from "../src/hdf5/_testing.ts";

const missing = await h5pyMissing();
if (missing !== undefined) {
  console.warn(
    `WARNING: h5py (/usr/bin/python3) unavailable, HDF5 end-to-end tests skipped: ${missing}`,
  );
}

const STRATA = [
  "run",
  "--allow-net=127.0.0.1",
  "--allow-read=.",
  "--allow-write=./tmp",
  "--allow-env=LOG_TOKENS,LOG_STREAM",
  "src/cli/main.ts",
];

const GRID = "dataset grid {\n  var t [2, 3]float64\n  var p [2]struct { id int32; e float32 }\n}";

Deno.test({
  name:
    "strata export and GET .../export write a version h5py reads; strata import and POST .../import read h5py's files",
  ignore: missing !== undefined,
  fn: async () => {
    const server = await startServer();
    const url = ["--url", server.url];
    const dir = server.dataDir;
    const flatten = async (file: string) =>
      JSON.parse(
        await python(`${FLATTEN_PY}\nimport sys\nprint(json.dumps(flatten(sys.argv[1])))`, [file]),
      );
    try {
      await Deno.writeTextFile(`${dir}/grid.ddl`, GRID);
      const bytes = new Uint8Array(48 + 16);
      new Float64Array(bytes.buffer, 0, 6).set([1, 2, 3, 4, 5, 6.5]);
      const view = new DataView(bytes.buffer);
      view.setInt32(48, 10, true);
      view.setFloat32(52, 0.5, true);
      view.setInt32(56, -20, true);
      view.setFloat32(60, 1.5, true);
      await Deno.writeFile(`${dir}/grid.bin`, bytes);
      assert.equal(
        (await runDeno([...STRATA, "create", "grid", `${dir}/grid.ddl`, ...url])).code,
        0,
      );
      const pub = await runDeno([
        ...STRATA,
        "publish",
        "grid",
        "1",
        "dataset",
        `${dir}/grid.bin`,
        ...url,
      ]);
      assert.equal(pub.code, 0, pub.stderr);

      const expected = {
        "t/": [1, 2, 3, 4, 5, 6.5],
        "p/id": ["10", "-20"],
        "p/e": [0.5, 1.5],
      };
      const exp = await runDeno([...STRATA, "export", "grid", "latest", `${dir}/cli.h5`, ...url]);
      assert.equal(exp.code, 0, exp.stderr);
      assert.match(exp.stdout, /^exported version 1 of grid to .*cli\.h5: \d+ bytes\n$/);
      assert.deepEqual(await flatten(`${dir}/cli.h5`), expected);

      const res = await fetch(`${server.url}/v1/datasets/grid/versions/1/export`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/x-hdf5");
      await Deno.writeFile(`${dir}/api.h5`, new Uint8Array(await res.arrayBuffer()));
      assert.deepEqual(await flatten(`${dir}/api.h5`), expected);
      const attrs = JSON.parse(
        await python(
          "import h5py, json, sys\nf = h5py.File(sys.argv[1])\nprint(json.dumps({k: (v if isinstance(v, str) else int(v)) for k, v in f.attrs.items()}))",
          [`${dir}/api.h5`],
        ),
      );
      assert.deepEqual(attrs, { dataset: "grid", version: 1, description: GRID });

      // h5py writes; strata import reads (CLI) and the import route reads.
      await python(
        `import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "w") as f:
    f["temp"] = np.arange(12, dtype="<f8").reshape(3, 4)
    d = np.dtype([("x", "<f4"), ("n", "<u2")])
    f["cells"] = np.array([(0.5, 1), (1.5, 2)], dtype=d)`,
        [`${dir}/sim.h5`],
      );
      const imp = await runDeno([...STRATA, "import", `${dir}/sim.h5`, ...url]);
      assert.equal(imp.code, 0, imp.stderr);
      assert.deepEqual(JSON.parse(imp.stdout), {
        dataset: "sim",
        version: 1,
        committed: true,
        variables: [{ name: "cells", path: "/cells" }, { name: "temp", path: "/temp" }],
      });
      const back = await runDeno([...STRATA, "export", "sim", "1", `${dir}/sim-back.h5`, ...url]);
      assert.equal(back.code, 0, back.stderr);
      assert.deepEqual(await flatten(`${dir}/sim-back.h5`), await flatten(`${dir}/sim.h5`));

      const posted = await fetch(`${server.url}/v1/datasets/sim2/import`, {
        method: "POST",
        headers: { "content-type": "application/x-hdf5" },
        body: await Deno.readFile(`${dir}/sim.h5`),
      });
      assert.equal(posted.status, 201);
      assert.equal((await posted.json()).committed, true);
      const t = await fetch(`${server.url}/v1/datasets/sim2/versions/1/fragments/dataset`);
      assert.equal(t.status, 200);
      assert.equal((await t.arrayBuffer()).byteLength, 2 * 6 + 4 /* align */ + 12 * 8);

      const bad = await fetch(`${server.url}/v1/datasets/nope/import`, {
        method: "POST",
        headers: { "content-type": "application/x-hdf5" },
        body: "not hdf5",
      });
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).error.message, /not an HDF5 file/);
      assert.equal((await fetch(`${server.url}/v1/datasets/nope`)).status, 404);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
