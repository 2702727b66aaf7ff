/**
 * FlameStore on a real `strata serve`, driven by TensorFlow.js models: the
 * flows of FlameStore's examples (create, train and save; reload and
 * evaluate; duplicate and evaluate) and its refusals (a name registered
 * twice, weights of another architecture, a duplicate onto a taken name).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import { ConflictError, InvalidRequestError, NotFoundError } from "../src/errors.ts";
import { FlameStore } from "../src/services/flamestore/mod.ts";
import { startServer } from "./_server.ts";
import { pythonHas, runPython } from "./_python.ts";

await tf.setBackend("cpu");

/** A small classifier (FlameStore's examples train LeNet-5; this is its shape, smaller). */
function classifier(hidden: number): tfl.Sequential {
  const m = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: hidden, inputShape: [8], activation: "relu" }),
      tfl.layers.dense({ units: 3, activation: "softmax" }),
    ],
  });
  m.compile({ optimizer: "sgd", loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  return m;
}

const x = tf.randomUniform([64, 8], 0, 1, "float32", 7);
const y = tf.oneHot(tf.randomUniform([64], 0, 3, "int32", 8) as tf.Tensor1D, 3);

async function predict(m: tfl.LayersModel): Promise<Float32Array> {
  return await (m.predict(x) as tf.Tensor).data() as Float32Array;
}

Deno.test("FlameStore on strata serve: TensorFlow.js models saved, reloaded, duplicated, refused as FlameStore does", async (t) => {
  const server = await startServer({
    extra: "services:\n  flamestore: { targets: 4, durable: false }\n",
  });
  try {
    const store = await FlameStore.connect(server.url);
    const router = store.router();
    // TensorFlow.js types a router as never answering null, though it does for other schemes.
    tf.io.registerSaveRouter(router as unknown as Parameters<typeof tf.io.registerSaveRouter>[0]);
    tf.io.registerLoadRouter(router as unknown as Parameters<typeof tf.io.registerSaveRouter>[0]);

    const model = classifier(16);
    await model.fit(x, y, { epochs: 2, verbose: 0 });
    const trained = await predict(model);

    await t.step("create, train and save; reload and evaluate: the same predictions", async () => {
      await model.save("strata://lenet");
      const back = await tfl.loadLayersModel("strata://lenet");
      assert.deepEqual(await predict(back), trained);
      const r = await store.reload("lenet");
      assert.equal(r.saves, 1);
      assert.equal(r.weightSpecs.length, 4);
      assert.equal(r.byteLength, (8 * 16 + 16 + 16 * 3 + 3) * 4);
      assert.match(r.signature, /^[0-9a-f]{16}$/);
    });

    await t.step("duplicate and evaluate; a duplicate onto a taken name is refused", async () => {
      await store.duplicate("lenet", "lenet-copy");
      assert.deepEqual(await predict(await tfl.loadLayersModel("strata://lenet-copy")), trained);
      await assert.rejects(store.duplicate("lenet", "lenet-copy"), ConflictError);
      await assert.rejects(store.duplicate("nothing", "other"), NotFoundError);
    });

    await t.step(
      "a name registered twice, and weights of another architecture, are refused",
      async () => {
        const r = await store.reload("lenet");
        await assert.rejects(
          store.register("lenet", { topology: r.topology, weightSpecs: r.weightSpecs }),
          ConflictError,
        );
        const other = classifier(10);
        await assert.rejects(other.save("strata://lenet"), (e: Error) => {
          assert.ok(e instanceof ConflictError, String(e));
          assert.match(e.message, /do not fit model 'lenet'/);
          return true;
        });
        await assert.rejects(
          store.save("lenet", new Uint8Array(12), { signature: r.signature }),
          InvalidRequestError,
        );
        // Refused saves left the weights as they were.
        assert.deepEqual(await predict(await tfl.loadLayersModel("strata://lenet")), trained);
        assert.equal((await store.reload("lenet")).saves, 1);
      },
    );

    await t.step("a second save replaces the first: load answers the latest", async () => {
      await model.fit(x, y, { epochs: 3, verbose: 0 });
      const retrained = await predict(model);
      assert.notDeepEqual(retrained, trained);
      await model.save("strata://lenet");
      assert.deepEqual(await predict(await tfl.loadLayersModel("strata://lenet")), retrained);
      assert.equal((await store.load("lenet")).saves, 2);
      // The duplicate kept its own weights.
      assert.deepEqual(await predict(await tfl.loadLayersModel("strata://lenet-copy")), trained);
    });

    await t.step("two first saves of one model at once: one registers it, both save", async () => {
      const twin = classifier(6);
      await Promise.all([twin.save("strata://twin"), twin.save("strata://twin")]);
      assert.equal((await store.reload("twin")).saves, 2);
      assert.equal(await store.delete("twin"), true);
    });

    await t.step("weights past the KV's inline size go to a blob and come back exact", async () => {
      const big = classifier(4096); // (8 x 4096 + 4096 + 4096 x 3 + 3) float32: 656 KB
      await big.save("strata://big");
      const back = await tfl.loadLayersModel("strata://big");
      assert.deepEqual(await predict(back), await predict(big));
    });

    await t.step("unknown names, names never saved, bad names, other URL schemes", async () => {
      await assert.rejects(store.load("nothing"), NotFoundError);
      await assert.rejects(store.reload("nothing"), NotFoundError);
      await store.register("empty", { topology: {}, weightSpecs: [] });
      await assert.rejects(store.load("empty"), /no weights saved yet/);
      await assert.rejects(store.reload("a/b"), InvalidRequestError);
      await assert.rejects(
        store.register("s", {
          topology: {},
          weightSpecs: [{ name: "t", shape: [2], dtype: "string" as "bool" }],
        }),
        InvalidRequestError,
      );
      assert.equal(router("file://model.json"), null);
      assert.equal(router("indexeddb://lenet"), null);
    });

    await t.step("the service's operations are in the runtime's metrics, by outcome", async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const count = (operation: string, code: string) =>
        Number(
          new RegExp(
            `^strata_service_operation_duration_seconds_count\\{service="flamestore",operation="${operation}",code="${code}"\\} (\\d+)$`,
            "m",
          ).exec(text)?.[1] ?? 0,
        );
      assert.ok(count("register", "ok") >= 3, text.slice(0, 300));
      assert.ok(count("register", "conflict") >= 1);
      assert.ok(count("save_bytes", "conflict") >= 1);
      // A client that may read in place asks for a lease first; an unknown model is refused there.
      assert.ok(count("lease", "not_found") + count("load_bytes", "not_found") >= 1);
    });

    await t.step("list and delete", async () => {
      assert.deepEqual(await store.list(), ["big", "empty", "lenet", "lenet-copy"]);
      assert.deepEqual(await store.list({ after: "empty", limit: 2 }), ["lenet", "lenet-copy"]);
      assert.equal(await store.delete("big"), true);
      assert.equal(await store.delete("big"), false);
      await assert.rejects(store.reload("big"), NotFoundError);
      assert.deepEqual(await store.list(), ["empty", "lenet", "lenet-copy"]);
    });
  } finally {
    await server.stop();
  }
});

Deno.test("Python FlameStore client: numpy weights registered, saved, loaded, refused, shared with TypeScript", async () => {
  if (!(await pythonHas(["numpy", "msgpack"], "the Python FlameStore client test"))) return;
  await Deno.mkdir("tmp", { recursive: true });
  const dataDir = await Deno.makeTempDir({ dir: "tmp" });
  const server = await startServer({
    dataDir,
    extra:
      `tiers:\n  - { name: shm, kind: shm, capacity: 1GiB, path: ${Deno.cwd()}/${dataDir}/shm }\n` +
      "  - { name: file, kind: file, capacity: 4GiB }\nservices:\n  flamestore: { targets: 2 }\n",
  });
  try {
    const store = await FlameStore.connect(server.url);
    const weightSpecs = [
      { name: "k", shape: [3, 2], dtype: "float32" as const },
      { name: "b", shape: [2], dtype: "float32" as const },
    ];
    await store.register("from-ts", { topology: { layers: 1 }, weightSpecs });
    const values = new Float32Array(8).map((_, i) => i);
    await store.save("from-ts", new Uint8Array(values.buffer), { weightSpecs });

    const ran = await runPython("flamestore_client.py", [server.url, "shm"]);
    assert.equal(ran.code, 0, `python failed:\n${ran.stdout}\n${ran.stderr}`);
    assert.deepEqual(ran.stdout.split("\n").filter((l) => l.startsWith("ok ")), [
      "ok register",
      "ok save-load",
      "ok refusals",
      "ok duplicate",
      "ok interop",
      "ok staged",
    ]);
    // What Python saved loads here, in its specs' shapes.
    const r = await store.reload("mlp");
    assert.deepEqual(r.weightSpecs.map((s) => [s.shape, s.dtype]), [
      [[8, 16], "float32"],
      [[16], "float32"],
      [[16, 3], "float32"],
      [[3], "int32"],
    ]);
    const w = await store.load("mlp");
    assert.equal(w.saves, 2);
    const bias = new Float32Array(w.data.slice(8 * 16 * 4, (8 * 16 + 16) * 4).buffer);
    assert.deepEqual([...bias], new Array(16).fill(1));
  } finally {
    await server.stop();
  }
});
