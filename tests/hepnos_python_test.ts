/**
 * The Python HEPnOS client (clients/python/strata/hepnos.py) on a real
 * `strata serve`: HEPnOS's test behaviours under both overwrite policies,
 * and products the TypeScript and Python clients read from each other.
 */
import assert from "node:assert/strict";
import { DataStore } from "../src/services/hepnos/mod.ts";
import { startServer } from "./_server.ts";
import { lastJson, pythonHas, runPython } from "./_python.ts";

for (const overwrite of [false, true]) {
  Deno.test(`Python HEPnOS client: datasets, runs, events, products and batches (overwrite ${overwrite})`, async () => {
    if (!(await pythonHas(["numpy", "msgpack"], "the Python HEPnOS client test"))) return;
    const server = await startServer({
      extra:
        `services:\n  hepnos: { targets: 4, durable: false, options: { overwrite: ${overwrite} } }\n`,
    });
    try {
      const store = await DataStore.connect(server.url);
      const event = await (await (await (await store.root().createDataSet("interop")).createRun(1n))
        .createSubRun(1n)).createEvent(1n);
      assert.equal(await event.storeArray("ts", new Float64Array([1.5, 2.5, 3.5])), true);

      const ran = await runPython("hepnos_client.py", [
        server.url,
        overwrite ? "overwrite" : "keep",
      ]);
      assert.equal(ran.code, 0, `python failed:\n${ran.stdout}\n${ran.stderr}`);
      assert.deepEqual(ran.stdout.split("\n").filter((l) => l.startsWith("ok ")), [
        "ok datasets",
        "ok runs",
        "ok events",
        "ok products",
        "ok write-batch",
        "ok async-engine",
        "ok interop",
        "ok errors",
      ]);
      assert.deepEqual(lastJson(ran.stdout), { errors: { not_found: 404, invalid_request: 400 } });
      assert.deepEqual([...(await event.loadArray("py", Int32Array))!], [-1, 0, 7]);
    } finally {
      await server.stop();
    }
  });
}
