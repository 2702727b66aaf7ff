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

Deno.test("Python HEPnOS client stages a batch of large products on its runtime's node: one pack", async () => {
  if (!(await pythonHas(["numpy", "msgpack"], "the Python HEPnOS client test"))) return;
  await Deno.mkdir("tmp", { recursive: true });
  const dataDir = await Deno.makeTempDir({ dir: "tmp" });
  const shm = `${Deno.cwd()}/${dataDir}/shm`;
  const server = await startServer({
    dataDir,
    extra: `tiers:\n  - { name: shm, kind: shm, capacity: 1GiB, path: ${shm} }\n` +
      "  - { name: file, kind: file, capacity: 4GiB }\nservices:\n  hepnos: { targets: 4 }\n" +
      "  flamestore: { targets: 2 }\n",
  });
  try {
    const ran = await runPython("hepnos_staged.py", [server.url]);
    assert.equal(ran.code, 0, `python failed:\n${ran.stdout}\n${ran.stderr}`);
    assert.deepEqual(ran.stdout.split("\n").filter((l) => l.startsWith("ok ")), [
      "ok staged",
      "ok read in place",
      "ok kept",
      "ok flamestore read in place",
      "ok flamestore small",
    ]);
    // Every lease the loads took (HEPnOS products, FlameStore weights) was released.
    assert.deepEqual([...Deno.readDirSync(`${shm}/.leases`)], []);
    // The batch is one file on the shm tier (the stage, kept as the pack); the refused
    // second batch left nothing.
    const files = [...Deno.readDirSync(shm)].filter((e) => e.name.includes("hepnos"));
    assert.equal(files.length, 1, files.map((f) => f.name).join(" "));
    assert.equal(Deno.statSync(`${shm}/${files[0]!.name}`).size > 10 << 20, true);
  } finally {
    await server.stop();
  }
});
