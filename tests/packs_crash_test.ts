/**
 * Copies of one version published at once are registered in packs (one KV
 * row for many copies): a `strata serve` killed with SIGKILL after such a
 * burst, and restarted on its data, still knows every copy it answered, and
 * the version completes and attaches byte for byte.
 */
import assert from "node:assert/strict";
import { connect } from "../src/client/mod.ts";
import { type Proc, spawnStrata } from "./_cluster.ts";

const CELLS = 256;
/** Elements per cell (float64). */
const CELL = 16;

const DESCRIPTION = `dataset grid { var t [${CELLS * CELL}]float64 }
fragment cell(r) { var t = t[r * ${CELL}:(r + 1) * ${CELL}] }`;

function cell(r: number): Uint8Array {
  const a = new Float64Array(CELL);
  for (let i = 0; i < CELL; i++) a[i] = r * 1000 + i;
  return new Uint8Array(a.buffer);
}

Deno.test("crash: copies registered in packs survive kill -9 of strata serve, and their version completes", async () => {
  await Deno.mkdir("tmp", { recursive: true });
  const dataDir = await Deno.makeTempDir({ dir: "tmp" });
  let proc: Proc | undefined;
  try {
    proc = await spawnStrata(["serve"], { dataDir });
    let client = connect(proc.url);
    await client.createDataset("grid", DESCRIPTION, { durable: true });
    // 200 cells at once: each answered once its registration is durable.
    await Promise.all(
      Array.from(
        { length: 200 },
        (_, r) => client.publish("grid", 1, "cell", cell(r), { params: { r } }),
      ),
    );
    await proc.kill();
    // Fewer packs than copies: the burst was registered in packs, not a key per copy.
    const kv = await Deno.openKv(`${dataDir}/registry.kv`);
    const packs = (await Array.fromAsync(kv.list({ prefix: ["packs", "grid", 1] }))).length;
    const own = (await Array.fromAsync(kv.list({ prefix: ["fragments", "grid", 1] }))).length;
    kv.close();
    assert.ok(packs > 0 && packs + own < 200, `${packs} packs and ${own} keys of their own`);
    proc = await spawnStrata(["serve"], { dataDir });
    client = connect(proc.url);
    const [v1] = await client.versions("grid");
    assert.deepEqual([v1?.version, v1?.state, v1?.fragments], [1, "open", 200]);
    // The other 56 complete the version, which commits.
    await Promise.all(
      Array.from(
        { length: CELLS - 200 },
        (_, i) => client.publish("grid", 1, "cell", cell(200 + i), { params: { r: 200 + i } }),
      ),
    );
    const whole = await client.attach("grid", "dataset", { version: 1 });
    const values = new Float64Array(whole.bytes.buffer, whole.bytes.byteOffset, CELLS * CELL);
    for (let r = 0; r < CELLS; r++) {
      for (let i = 0; i < CELL; i++) assert.equal(values[r * CELL + i], r * 1000 + i);
    }
  } finally {
    await proc?.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
