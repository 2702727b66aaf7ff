/**
 * FlameStore across a name server and three runtimes, each its own process:
 * model records in the name server's KV, saves routed to the runtime of the
 * model's target (its weights in that runtime's tiers), loads and
 * duplicates from any runtime over the data plane, and a runtime that is
 * down named in a 503.
 */
import assert from "node:assert/strict";
import { UnavailableError } from "../src/errors.ts";
import { FlameStore } from "../src/services/flamestore/mod.ts";
import { startCluster } from "./_cluster.ts";

const RUNTIMES = ["a", "b", "c"];
const SERVICES = "services:\n  flamestore: { targets: 6, durable: false, runtimes: [a, b, c] }\n";
const weightSpecs = [{ name: "w", shape: [50_000], dtype: "float32" as const }]; // 200 KB: a blob

function weights(seed: number): Uint8Array {
  return new Uint8Array(new Float32Array(50_000).map((_, i) => seed * 1e5 + i).buffer);
}

Deno.test("FlameStore on a name server and three runtimes: saves on their target's runtime, loads anywhere", async (t) => {
  const cluster = await startCluster(RUNTIMES, { leaseMs: 3000, config: SERVICES });
  try {
    const [a, b, c] = await Promise.all(cluster.runtimes.map((p) => FlameStore.connect(p.url)));
    const names = [...Array(12).keys()].map((i) => `model-${i}`);
    const runtimeOf = (name: string) => RUNTIMES[a!.targetOf(name) % 3]!;

    await t.step("models registered and saved from one runtime land on every runtime", async () => {
      assert.deepEqual(a!.ring.runtimes, RUNTIMES);
      for (const [i, name] of names.entries()) {
        await a!.register(name, { topology: { i }, weightSpecs });
        assert.equal((await a!.save(name, weights(i), { weightSpecs })).saves, 1);
      }
      assert.deepEqual([...new Set(names.map(runtimeOf))].sort(), RUNTIMES);
    });

    await t.step("every runtime loads every model, exact", async () => {
      for (const store of [a!, b!, c!]) {
        for (const [i, name] of names.entries()) {
          const w = await store.load(name);
          assert.deepEqual(w.data, weights(i), `${name} from ${store.url}`);
          assert.deepEqual((await store.reload(name)).topology, { i });
        }
      }
    });

    await t.step("a duplicate made on another runtime copies the weights", async () => {
      await c!.duplicate("model-0", "model-0-fork");
      assert.deepEqual((await b!.load("model-0-fork")).data, weights(0));
      assert.deepEqual(await b!.list({ after: "model-0", limit: 1 }), ["model-0-fork"]);
    });

    await t.step(
      "a runtime down: saves of its models are 503 naming it, others go on",
      async () => {
        await cluster.kill(2);
        await new Promise((r) => setTimeout(r, 3500)); // its lease lapses
        const onC = names.find((n) => runtimeOf(n) === "c")!;
        const onA = names.find((n) => runtimeOf(n) === "a")!;
        await assert.rejects(a!.save(onC, weights(99), { weightSpecs }), (e) => {
          assert.ok(e instanceof UnavailableError, String(e));
          assert.match((e as Error).message, /'c'/);
          return true;
        });
        assert.equal((await b!.save(onA, weights(7), { weightSpecs })).saves, 2);
        assert.deepEqual((await a!.load(onA)).data, weights(7));
      },
    );
  } finally {
    await cluster.stop();
  }
});
