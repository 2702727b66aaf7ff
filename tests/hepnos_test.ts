/**
 * HEPnOS on a real `strata serve`: the behaviours of HEPnOS's own tests
 * (DataSetTest, RunSetTest, EventSetTest, LoadStoreTest, WriteBatchTest,
 * ParallelMPITest) through the TypeScript client.
 */
import assert from "node:assert/strict";
import { InvalidRequestError, NotFoundError } from "../src/errors.ts";
import {
  AsyncEngine,
  DataSet,
  DataStore,
  ParallelEventProcessor,
  Prefetcher,
  WriteBatch,
} from "../src/services/hepnos/mod.ts";
import { frame } from "../src/services/frames.ts";
import { productListPieces } from "../src/services/hepnos/product_list.ts";
import { joinBytes } from "../src/http/join_bytes.ts";
import { decodeItem, encodeItem, INVALID } from "../src/services/hepnos/codec.ts";
import { startServer } from "./_server.ts";

const SERVICES = (overwrite: boolean) =>
  `services:\n  hepnos: { targets: 4, durable: false, options: { overwrite: ${overwrite} } }\n`;

async function names(it: AsyncIterable<{ name: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const d of it) out.push(d.name);
  return out;
}

async function numbers(it: AsyncIterable<{ number: bigint }>): Promise<bigint[]> {
  const out: bigint[] = [];
  for await (const d of it) out.push(d.number);
  return out;
}

Deno.test("HEPnOS on strata serve: datasets, runs, events and products as HEPnOS's tests expect", async (t) => {
  const server = await startServer({ extra: SERVICES(false) });
  try {
    const store = await DataStore.connect(server.url);
    assert.equal(store.numTargets, 4);
    const root = store.root();

    await t.step("DataSet: nested creates, names refused, paths, order, bounds", async () => {
      const mds = await root.createDataSet("matthieu");
      for (const n of ["shane", "phil", "rob"]) await root.createDataSet(n);
      await assert.rejects(mds.createDataSet("ds0/AAA"), InvalidRequestError);
      await assert.rejects(mds.createDataSet("ds0%RRS"), InvalidRequestError);
      const ds1 = await mds.createDataSet("ds1");
      assert.equal(ds1.name, "ds1");
      assert.equal(ds1.path, "matthieu/ds1");
      assert.deepEqual((await root.dataSet("matthieu/ds1")).uuid, ds1.uuid);
      const ds11 = await ds1.createDataSet("ds11");
      assert.deepEqual((await mds.dataSet("ds1/ds11")).uuid, ds11.uuid);
      for (const n of ["ds3", "ds2", "dsB", "dsD"]) await mds.createDataSet(n);
      assert.deepEqual((await mds.createDataSet("ds2")).path, "matthieu/ds2"); // idempotent
      await assert.rejects(mds.dataSet("ds6"), NotFoundError);
      assert.equal(await mds.find("ds6"), undefined);
      assert.equal((await mds.find("ds2"))?.name, "ds2");
      assert.deepEqual(await names(mds.dataSets()), ["ds1", "ds2", "ds3", "dsB", "dsD"]);
      assert.deepEqual(await names(root.dataSets()), ["matthieu", "phil", "rob", "shane"]);
      assert.equal((await mds.lowerBound("dsB"))?.name, "dsB");
      assert.equal((await mds.lowerBound("dsC"))?.name, "dsD");
      assert.equal((await mds.lowerBound("dsA"))?.name, "dsB");
      assert.equal(await mds.lowerBound("dsE"), undefined);
      assert.equal((await mds.upperBound("dsB"))?.name, "dsD");
      assert.equal((await mds.upperBound("dsC"))?.name, "dsD");
      assert.equal((await mds.upperBound("dsA"))?.name, "dsB");
      assert.equal(await mds.upperBound("dsD"), undefined);
      assert.equal((await DataSet.fromUuid(store, ds11.uuid)).path, "matthieu/ds1/ds11");
      await assert.rejects(mds.run(45n), NotFoundError);
      assert.equal((await mds.createRun(45n)).number, 45n);
    });

    await t.step("Levels: 255 nested datasets, and no more", async () => {
      let ds = await root.createDataSet("deep");
      for (let i = 1; i < 255; i++) ds = await ds.createDataSet("d");
      assert.equal(ds.path.split("/").length, 255);
      await assert.rejects(ds.createDataSet("d"), InvalidRequestError);
    });

    await t.step("RunSet: numeric order, find, lower_bound and upper_bound", async () => {
      const ds = await root.createDataSet("runs");
      for (const n of [3n, 1n, 5n, 7n, 2n ** 40n, 2n ** 64n - 2n]) await ds.createRun(n);
      await ds.createRun(5n); // idempotent
      assert.deepEqual(await numbers(ds.runs()), [1n, 3n, 5n, 7n, 2n ** 40n, 2n ** 64n - 2n]);
      assert.equal((await ds.findRun(5n))?.number, 5n);
      assert.equal(await ds.findRun(4n), undefined);
      assert.equal((await ds.runLowerBound(4n))?.number, 5n);
      assert.equal((await ds.runLowerBound(5n))?.number, 5n);
      assert.equal((await ds.runUpperBound(5n))?.number, 7n);
      assert.equal(await ds.runUpperBound(2n ** 64n - 2n), undefined);
      const run = await ds.run(3n);
      for (const n of [10n, 2n, 30n]) await run.createSubRun(n);
      assert.deepEqual(await numbers(run.subRuns()), [2n, 10n, 30n]);
      assert.equal((await run.subRunUpperBound(10n))?.number, 30n);
      const sub = await run.subRun(10n);
      for (const n of [9n, 1n, 4n]) await sub.createEvent(n);
      assert.deepEqual(await numbers(sub.events()), [1n, 4n, 9n]);
      assert.equal((await sub.eventLowerBound(5n))?.number, 9n);
      await assert.rejects(sub.event(5n), NotFoundError);
    });

    await t.step(
      "EventSet: per target, subruns never split, union is the global order",
      async () => {
        const ds = await root.createDataSet("events");
        for (let r = 0n; r < 3n; r++) {
          const run = await ds.createRun(r);
          for (let s = 0n; s < 4n; s++) {
            const sub = await run.createSubRun(s);
            await using batch = new WriteBatch(store);
            for (let e = 0n; e < 5n; e++) await sub.createEvent(e, { batch });
          }
        }
        const all: string[] = [];
        const owner = new Map<string, number>();
        for (let target = 0; target < store.numTargets; target++) {
          const seen: bigint[][] = [];
          for await (const e of ds.events(target)) {
            seen.push([e.run, e.subrun, e.number]);
            all.push(`${e.run}.${e.subrun}.${e.number}`);
            const sub = `${e.run}.${e.subrun}`;
            assert.equal(owner.get(sub) ?? target, target, `subrun ${sub} split over targets`);
            owner.set(sub, target);
          }
          const sorted = [...seen].sort((a, b) =>
            a[0]! !== b[0]!
              ? (a[0]! < b[0]! ? -1 : 1)
              : a[1]! !== b[1]!
              ? (a[1]! < b[1]! ? -1 : 1)
              : (a[2]! < b[2]! ? -1 : 1)
          );
          assert.deepEqual(seen, sorted);
        }
        const global: string[] = [];
        for await (const e of ds.events()) global.push(`${e.run}.${e.subrun}.${e.number}`);
        assert.deepEqual(global, all);
        assert.equal(new Set(global).size, 60);
      },
    );

    await t.step(
      "LoadStore: values and array ranges at every level; keep-first policy",
      async () => {
        const ds = await root.createDataSet("products");
        const run = await ds.createRun(1n);
        const sub = await run.createSubRun(2n);
        const ev = await sub.createEvent(3n);
        for (const item of [ds, run, sub, ev]) {
          assert.equal(await item.storeJson("p", "Particle", { x: 1, kind: "mu" }), true);
          assert.deepEqual(await item.loadJson("p", "Particle"), { x: 1, kind: "mu" });
          assert.equal(await item.load("p", "Other"), undefined);
          assert.equal(await item.load("q", "Particle"), undefined);
        }
        const v = Float64Array.from({ length: 10 }, (_, i) => i * 1.5);
        assert.equal(await ev.storeArray("v", v, { start: 2, end: 6 }), true);
        assert.deepEqual(await ev.loadArray("v", Float64Array), v.subarray(2, 6));
        assert.deepEqual(
          await ev.load("v", "Float64Array", { offset: 8, length: 8 }),
          new Uint8Array(v.buffer, 24, 8),
        );
        // The documented rule: a second store is answered false and the first value stays.
        assert.equal(await ev.storeJson("p", "Particle", { x: 2 }), false);
        assert.deepEqual(await ev.loadJson("p", "Particle"), { x: 1, kind: "mu" });
        // Large products live in blobs; the bytes come back exactly.
        const big = new Uint8Array(1 << 20).map((_, i) => i * 31);
        assert.equal(await ev.store("big", "bytes", big), true);
        assert.deepEqual(await ev.load("big", "bytes"), big);
        assert.deepEqual(
          await ev.load("big", "bytes", { offset: 1000, length: 10 }),
          big.subarray(1000, 1010),
        );
        assert.deepEqual(
          (await ev.products()).map((p) => `${p.label}#${p.type}`).sort(),
          ["big#bytes", "p#Particle", "v#Float64Array"],
        );
        await assert.rejects(ev.store("a#b", "t", new Uint8Array(1)), InvalidRequestError);
        const ghost =
          new (ev.constructor as typeof import("../src/services/hepnos/items.ts").Event)(
            store,
            { ...ev.item, event: 99n },
          );
        await assert.rejects(ghost.store("x", "t", new Uint8Array(1)), NotFoundError);
      },
    );

    await t.step(
      "WriteBatch and AsyncEngine: creates and stores land; prefetcher reads ahead",
      async () => {
        const ds = await root.createDataSet("batched");
        const run = await ds.createRun(0n);
        const batch = new WriteBatch(store, { maxBatchSize: 16 });
        for (let s = 0n; s < 3n; s++) {
          const sub = await run.createSubRun(s, { batch });
          for (let e = 0n; e < 20n; e++) {
            const ev = await sub.createEvent(e, { batch });
            await ev.storeJson("n", "u64", Number(e), { batch });
          }
        }
        await batch.close();
        await assert.rejects(run.createSubRun(9n, { batch }), InvalidRequestError);
        const sub1 = await run.subRun(1n);
        assert.deepEqual((await numbers(sub1.events())).length, 20);
        const engine = new AsyncEngine({ maxInFlight: 4 });
        const sub9 = await run.createSubRun(9n);
        for (let e = 0n; e < 10n; e++) await sub9.createEvent(e, { async: engine });
        await engine.wait({ timeoutMs: 10_000 });
        const ghost = await sub9.createEvent(100n, { async: engine });
        await engine.wait({ timeoutMs: 10_000 });
        assert.equal(engine.errors.length, 0);
        await ghost.storeJson("n", "u64", 100, { async: engine });
        await engine.wait({ timeoutMs: 10_000 });
        assert.deepEqual((await numbers(sub9.events())).length, 11);
        const prefetcher = new Prefetcher(store, { cacheSize: 8, batchSize: 8 });
        prefetcher.fetchProduct("n", "u64");
        let sum = 0;
        for await (const ev of prefetcher.walk(sub1.events())) {
          sum += (await ev.loadJson<number>("n", "u64", { prefetcher }))!;
        }
        assert.equal(sum, (19 * 20) / 2);
        assert.equal(prefetcher.held, 0);
        // With room for two batches, the next batch's products are asked for before the
        // current batch's items are handed out: the caller's work overlaps the next load.
        const traced = await DataStore.connect(server.url);
        const load = traced.loadProducts.bind(traced);
        const order: string[] = [];
        traced.loadProducts = (products) => {
          order.push(`load ${products.length}`);
          return load(products);
        };
        const ahead = new Prefetcher(traced, { cacheSize: 8, batchSize: 4 });
        ahead.fetchProduct("n", "u64");
        let total = 0;
        for await (const ev of ahead.walk(sub1.events())) {
          order.push(`event ${ev.number}`);
          total += (await ev.loadJson<number>("n", "u64", { prefetcher: ahead }))!;
        }
        assert.equal(total, (19 * 20) / 2);
        assert.equal(ahead.held, 0);
        // Two loads (events 0-3 and 4-7) before event 0; each later load before the batch ahead.
        assert.deepEqual(order.slice(0, 3), ["load 4", "load 4", "event 0"]);
        assert.equal(order.indexOf("load 4", 3) < order.indexOf("event 4"), true);
        assert.equal(order.filter((o) => o.startsWith("load")).length, 5);
      },
    );

    await t.step(
      "WriteBatch over an AsyncEngine: sends run in the background, errors land in the engine",
      async () => {
        const ds = await root.createDataSet("batched-async");
        const engine = new AsyncEngine({ maxInFlight: 3 });
        // What runs at once: creates and products sends side by side.
        const traced = await DataStore.connect(server.url);
        const running = { create: 0, store: 0 };
        const most = { create: 0, store: 0 };
        const trace = <T>(kind: "create" | "store", run: () => Promise<T>) => async () => {
          most[kind] = Math.max(most[kind], ++running[kind]);
          try {
            return await run();
          } finally {
            running[kind]--;
          }
        };
        const call = traced.call.bind(traced);
        // Parents whose create has answered: a request creating a child must come after its
        // parent's answered, or travel with it. Each create is held a little, so sends overlap.
        const created = new Set<string>();
        const parentOf = (i: Uint8Array) => {
          const d = decodeItem(i);
          return d.event !== INVALID ? `${d.run}/${d.subrun}` : `${d.run}`;
        };
        const idOf = (i: Uint8Array) => {
          const d = decodeItem(i);
          return d.event !== INVALID
            ? `${d.run}/${d.subrun}/${d.event}`
            : d.subrun !== INVALID
            ? `${d.run}/${d.subrun}`
            : `${d.run}`;
        };
        traced.call = <T>(op: string, body: unknown, runtime?: number) => {
          if (op !== "create") return call<T>(op, body, runtime);
          const items = (body as { items: Uint8Array[] }).items;
          const here = new Set(items.map(idOf));
          for (const i of items) {
            const p = parentOf(i);
            if (p.includes("/")) assert.ok(created.has(p) || here.has(p), `${idOf(i)} before ${p}`);
          }
          return trace("create", async () => {
            await new Promise((r) => setTimeout(r, 5));
            const out = await call<T>(op, body, runtime);
            for (const id of here) created.add(id);
            return out;
          })();
        };
        const storeProducts = traced.storeProducts.bind(traced);
        traced.storeProducts = (products) => trace("store", () => storeProducts(products))();
        // Size 1: a subrun's create and its events' travel in separate requests at once.
        for (const size of [1, 4]) {
          const run = await ds.createRun(BigInt(size));
          const batch = new WriteBatch(traced, { maxBatchSize: size, async: engine });
          // Subruns and their events in the same batch: creates keep their order across requests.
          for (let s = 0n; s < 4n; s++) {
            const sub = await run.createSubRun(s, { batch });
            for (let e = 0n; e < 9n; e++) {
              const ev = await sub.createEvent(e, { batch });
              await ev.storeJson("n", "u64", Number(s * 100n + e), { batch });
            }
          }
          await batch.close();
          assert.equal(engine.errors.length, 0, String(engine.errors[0]));
          for (let s = 0n; s < 4n; s++) {
            const sub = await run.subRun(s);
            const events = await numbers(sub.events());
            assert.deepEqual(events, [...Array(9).keys()].map(BigInt));
            for (const e of events) {
              const ev = await sub.event(e);
              assert.equal(await ev.loadJson<number>("n", "u64"), Number(s * 100n + e));
            }
          }
        }
        // Creates whose parents are not being created travel at once; a child's waits for the
        // send creating its parent (no error above, every event there).
        assert.ok(most.create > 1, `at most ${most.create} creates send at once`);
        assert.ok(most.store > 1, `at most ${most.store} products send at once`);
        const run = await ds.run(4n);
        const batch = new WriteBatch(store, { maxBatchSize: 4, async: engine });
        // A product of an event that does not exist: the send fails in the engine, not in flush.
        const sub0 = await run.subRun(0n);
        const ev0 = await sub0.event(0n);
        const ghost =
          new (ev0.constructor as typeof import("../src/services/hepnos/items.ts").Event)(
            store,
            { ...ev0.item, event: 999n },
          );
        await ghost.storeJson("n", "u64", 1, { batch });
        await batch.close();
        assert.equal(engine.errors.length, 1);
        const failed = engine.errors[0];
        assert.ok(failed instanceof NotFoundError, String(failed));
        await assert.rejects(sub0.createEvent(50n, { batch }), InvalidRequestError);
      },
    );

    await t.step(
      "ParallelEventProcessor: every event once for 1, T-1, T and 2T+1 ranks",
      async () => {
        const ds = await root.createDataSet("pep");
        const batch = new WriteBatch(store);
        const run = await ds.createRun(1n, { batch });
        let total = 0;
        for (let s = 0n; s < 10n; s++) {
          const sub = await run.createSubRun(s, { batch });
          for (let e = 0n; e < 13n; e++) {
            const ev = await sub.createEvent(e, { batch });
            await ev.storeJson("id", "u64", `${s}.${e}`, { batch });
            total++;
          }
        }
        await batch.close();
        const T = store.numTargets;
        for (const ranks of [1, T - 1, T, 2 * T + 1]) {
          const seen: string[] = [];
          const counts = await Promise.all([...Array(ranks).keys()].map(async (rank) => {
            const pep = new ParallelEventProcessor(store, {
              job: `pep-${ranks}`,
              rank,
              ranks,
              inputBatchSize: 4,
              outputBatchSize: 3,
            });
            pep.preload("id", "u64");
            return (await pep.process(ds, (event, products) => {
              const id = JSON.parse(new TextDecoder().decode(products.get("id#u64")!));
              assert.equal(id, `${event.subrun}.${event.number}`);
              seen.push(id);
            })).processed;
          }));
          assert.equal(seen.length, total, `${ranks} ranks`);
          assert.equal(new Set(seen).size, total, `${ranks} ranks processed an event twice`);
          assert.equal(counts.reduce((a, b) => a + b, 0), total);
        }
      },
    );

    await t.step("Bad input is a specific 4xx", async () => {
      const post = (op: string, body: string) =>
        fetch(`${server.url}/v1/services/hepnos/${op}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
      let res = await post("create", '{"items": "x"}');
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error.code, "invalid_request");
      res = await post("nope", "{}");
      assert.equal(res.status, 404);
      await res.body?.cancel();
      res = await post("dataset", '{"path": "no/such"}');
      assert.equal(res.status, 404);
      await res.body?.cancel();
      res = await fetch(`${server.url}/v1/services/hepnos/info`, { method: "POST", body: "x" });
      assert.equal(res.status, 415);
      await res.body?.cancel();
      const raw = (op: string, body: Uint8Array<ArrayBuffer>) =>
        fetch(`${server.url}/v1/services/hepnos/${op}`, {
          method: "POST",
          headers: { "content-type": "application/octet-stream" },
          body,
        });
      res = await post("store_bytes", '{"products": []}');
      assert.equal(res.status, 400);
      assert.match((await res.json()).error.message, /expected an application\/octet-stream/);
      for (
        const [body, why] of [
          [new Uint8Array([0, 0]), /at least 4/],
          [new Uint8Array([0, 0, 0, 9, 1]), /header of 9 bytes/],
          [joinBytes(frame({ products: [] }, [new Uint8Array(3)])), /0 products, 1 parts/],
        ] as const
      ) {
        res = await raw("store_bytes", body);
        assert.equal(res.status, 400);
        const e = (await res.json()).error;
        assert.equal(e.code, "invalid_request");
        assert.match(e.message, why);
      }
      // Products named by a product list, their values the parts after it.
      const item = new Uint8Array(40).fill(9);
      const list = productListPieces([{ item, label: "l", type: "t" }]);
      const listed = (header: Record<string, unknown>, parts: (Uint8Array | null)[]) =>
        raw("store_bytes", joinBytes(frame(header, parts)));
      for (
        const [r, why] of [
          [listed(list.header, list.parts), /1 products, 0 values/],
          [listed(list.header, [...list.parts, null]), /product 0 has no bytes/],
          [listed(list.header, [list.parts[0]!]), /descriptors and pair indices as parts 0 and 1/],
          [listed({ ...list.header, ranges: [[0, 0, 1]] }, [...list.parts, item]), /no 'ranges'/],
          [listed({ pairs: "x" }, [...list.parts, item]), /'pairs' must be a list/],
          [listed(list.header, [item.subarray(1), list.parts[1]!, item]), /not a multiple of 40/],
        ] as const
      ) {
        res = await r;
        assert.equal(res.status, 400);
        const e = (await res.json()).error;
        assert.equal(e.code, "invalid_request");
        assert.match(e.message, why);
      }
      const sizes = frame({}, [new Uint8Array(3)]);
      res = await raw("store_bytes", joinBytes([sizes[0]!, new Uint8Array(2)]));
      assert.equal(res.status, 400);
      assert.match((await res.json()).error.message, /runs past the body/);
      const ghost = encodeItem({
        uuid: new Uint8Array(16).fill(7),
        run: 1n,
        subrun: INVALID,
        event: INVALID,
      });
      res = await raw(
        "store_bytes",
        joinBytes(
          frame({ products: [{ item: ghost, label: "l", type: "t" }] }, [new Uint8Array(1)]),
        ),
      );
      assert.equal(res.status, 404);
      await res.body?.cancel();
      const ghostList = productListPieces([{ item: ghost, label: "l", type: "t" }]);
      res = await listed(ghostList.header, [...ghostList.parts, new Uint8Array(1)]);
      assert.equal(res.status, 404);
      await res.body?.cancel();
    });

    await t.step(
      "Raw product bytes: batches, ranges, absent products, blobs read twice",
      async () => {
        const run = await (await root.createDataSet("raw")).createRun(3n);
        const sub = await run.createSubRun(0n);
        const evs = await Promise.all([0n, 1n, 2n].map((n) => sub.createEvent(n)));
        const big = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
        const small = new Uint8Array([1, 2, 3]);
        assert.deepEqual(
          await store.storeProducts([
            { item: evs[0]!.descriptor, label: "big", type: "bytes", value: big },
            { item: evs[1]!.descriptor, label: "small", type: "bytes", value: small },
            { item: evs[2]!.descriptor, label: "empty", type: "bytes", value: new Uint8Array(0) },
          ]),
          [true, true, true],
        );
        // Both forms of a framed store: products named in the header (the Python client's,
        // and a staged batch's) and a product list (the TypeScript client's below 8 MiB).
        const framedStore = async (parts: Uint8Array<ArrayBuffer>[]) => {
          const res = await fetch(`${server.url}/v1/services/hepnos/store_bytes`, {
            method: "POST",
            headers: { "content-type": "application/octet-stream", accept: "application/json" },
            body: joinBytes(parts),
          });
          assert.equal(res.status, 200);
          return (await res.json()).stored;
        };
        const named = [{ item: evs[1]!.descriptor, label: "named", type: "t" }];
        assert.deepEqual(
          await framedStore(frame({ products: named }, [new Uint8Array([4, 5])])),
          [true],
        );
        const listed = [
          { item: evs[1]!.descriptor, label: "listed", type: "t" },
          { item: evs[2]!.descriptor, label: "listed", type: "t" },
          { item: evs[2]!.descriptor, label: "listed", type: "u" },
        ];
        const list = productListPieces(listed);
        const values = [new Uint8Array([6]), new Uint8Array([7, 8]), new Uint8Array([9, 9, 9])];
        assert.deepEqual(
          await framedStore(frame(list.header, [...list.parts, ...values])),
          [true, true, true],
        );
        assert.deepEqual(await store.loadProducts([...named, ...listed]), [
          new Uint8Array([4, 5]),
          ...values,
        ]);
        for (let round = 0; round < 2; round++) {
          const got = await store.loadProducts([
            { item: evs[0]!.descriptor, label: "big", type: "bytes" },
            { item: evs[1]!.descriptor, label: "absent", type: "bytes" },
            { item: evs[1]!.descriptor, label: "small", type: "bytes" },
            { item: evs[2]!.descriptor, label: "empty", type: "bytes" },
            { item: evs[0]!.descriptor, label: "big", type: "bytes", offset: 299_990, length: 10 },
          ]);
          assert.deepEqual(got, [big, undefined, small, new Uint8Array(0), big.subarray(299_990)]);
        }
        assert.deepEqual(await evs[0]!.load("big", "bytes"), big);
        await assert.rejects(
          store.loadProducts([{
            item: evs[1]!.descriptor,
            label: "small",
            type: "bytes",
            offset: 2,
            length: 5,
          }]),
          InvalidRequestError,
        );
      },
    );
  } finally {
    await server.stop();
  }
});

Deno.test("HEPnOS with overwrite: the last store wins (Yokan's default)", async () => {
  const server = await startServer({ extra: SERVICES(true) });
  try {
    const store = await DataStore.connect(server.url);
    assert.equal(store.overwrite, true);
    const ds = await store.root().createDataSet("o");
    const ev = await (await (await ds.createRun(1n)).createSubRun(1n)).createEvent(1n);
    assert.equal(await ev.storeJson("p", "T", 1), true);
    assert.equal(await ev.storeJson("p", "T", 2), true);
    assert.equal(await ev.loadJson("p", "T"), 2);
    const big = new Uint8Array(200_000).fill(7);
    assert.equal(await ev.store("b", "bytes", big), true);
    assert.equal(await ev.store("b", "bytes", big.fill(9)), true);
    assert.deepEqual(await ev.load("b", "bytes"), big);
  } finally {
    await server.stop();
  }
});

Deno.test("HEPnOS load_bytes answers products of mixed sizes, absent ones and empty ones exactly", async () => {
  const server = await startServer({ extra: SERVICES(false) });
  try {
    const store = await DataStore.connect(server.url);
    const sub = await (await (await store.root().createDataSet("mix")).createRun(1n))
      .createSubRun(0n);
    // Small ones joined in the answer, 10 kB ones joined up to 64 KiB, blobs sent as they are.
    const sizes = [100, 0, 70_000, ...Array(12).fill(10_000), 3, 200_000, 100];
    const events: Awaited<ReturnType<typeof sub.createEvent>>[] = [];
    for (let e = 0; e < sizes.length + 1; e++) events.push(await sub.createEvent(BigInt(e)));
    const values = sizes.map((n, i) => new Uint8Array(n).map((_, j) => (i * 31 + j) & 0xff));
    assert.ok(
      (await store.storeProducts(
        values.map((value, i) => ({
          item: events[i]!.descriptor,
          label: "p",
          type: "bytes",
          value,
        })),
      )).every(Boolean),
    );
    const reads = events.map((e) => ({ item: e.descriptor, label: "p", type: "bytes" }));
    // Twice: from KV and blobs, then from the cache.
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(await store.loadProducts(reads), [...values, undefined]);
    }
  } finally {
    await server.stop();
  }
});

Deno.test("HEPnOS on a runtime whose products live in files: a range of a large product reads only the pieces holding it", async () => {
  const server = await startServer({
    extra: "tiers:\n  - { name: file, kind: file, capacity: 1GiB }\n" +
      "services:\n  hepnos: { targets: 2, durable: true }\n",
  });
  const pieced = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return Number(/^strata_copy_piece_reads_total (\d+)/m.exec(text)?.[1] ?? 0);
  };
  try {
    const store = await DataStore.connect(server.url);
    const ev = await (await (await (await store.root().createDataSet("big")).createRun(1n))
      .createSubRun(1n)).createEvent(1n);
    const big = new Float64Array(1 << 19).map((_, i) => i * 0.5); // 4 MiB
    assert.equal(await ev.storeArray("big", big), true);
    const before = await pieced();
    const got = await ev.load("big", "Float64Array", { offset: 8 * 300_000, length: 8 * 4 });
    assert.deepEqual([...new Float64Array(got!.slice().buffer)], [
      150_000,
      150_000.5,
      150_001,
      150_001.5,
    ]);
    assert.equal(await pieced(), before + 1, "one read of the pieces holding the range");
    await assert.rejects(
      ev.load("big", "Float64Array", { offset: 4 << 20, length: 8 }),
      /Invalid range 4194304\.\.4194312 of product 'big': it holds 4194304 bytes/,
    );
    // The whole product still reads, checked whole.
    assert.deepEqual(await ev.loadArray("big", Float64Array), big);
  } finally {
    await server.stop();
  }
});
