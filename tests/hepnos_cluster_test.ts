/**
 * HEPnOS across a name server and three runtimes, each its own process:
 * metadata in the name server's KV, product stores routed to their
 * target's runtime, large products read back from any runtime over the
 * data plane, and a runtime that is down named in a 503.
 */
import assert from "node:assert/strict";
import { UnavailableError } from "../src/errors.ts";
import {
  DataStore,
  ParallelEventProcessor,
  Prefetcher,
  WriteBatch,
} from "../src/services/hepnos/mod.ts";
import { productTarget } from "../src/services/hepnos/placement.ts";
import { startCluster } from "./_cluster.ts";

const RUNTIMES = ["a", "b", "c"];
const SERVICES = "services:\n  hepnos: { targets: 6, durable: false, runtimes: [a, b, c] }\n";

/** A product's bytes: `size` bytes derived from `seed`. */
function value(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

Deno.test("HEPnOS on a name server and three runtimes: every flow from any runtime", async (t) => {
  const cluster = await startCluster(RUNTIMES, { leaseMs: 3000, config: SERVICES });
  try {
    const [a, b, c] = await Promise.all(cluster.runtimes.map((p) => DataStore.connect(p.url)));
    assert.equal(a!.numTargets, 6);

    await t.step(
      "datasets, runs, subruns and events made on one runtime are seen on the others",
      async () => {
        const nova = await a!.root().createDataSet("nova");
        await nova.createDataSet("sub");
        const run = await nova.createRun(7n);
        const sub = await run.createSubRun(1n);
        for (const e of [5n, 1n, 3n]) await sub.createEvent(e);
        const seen = await (await b!.root().dataSet("nova")).run(7n);
        const events = await collect((await seen.subRun(1n)).events());
        assert.deepEqual(events.map((e) => e.number), [1n, 3n, 5n]);
        assert.deepEqual(
          (await collect((await c!.root().dataSet("nova")).dataSets())).map((d) => d.name),
          ["sub"],
        );
      },
    );

    const small = 100;
    const large = 200_000; // past 60 KiB: a blob on the tiers of the target's runtime
    const ds = await a!.root().createDataSet("spread");
    const held = new Map<string, number>(); // products by the runtime holding them
    await t.step(
      "batched creates and stores of small and large products land on every runtime",
      async () => {
        const batch = new WriteBatch(a!, { maxBatchSize: 16 });
        const run = await ds.createRun(1n, { batch });
        for (let s = 0n; s < 12n; s++) {
          const sub = await run.createSubRun(s, { batch });
          for (let e = 0n; e < 4n; e++) {
            const ev = await sub.createEvent(e, { batch });
            const seed = Number(s) * 10 + Number(e);
            await ev.store("small", "bytes", value(seed, small), { batch });
            await ev.store("large", "bytes", value(seed, large), { batch });
            const runtime = RUNTIMES[productTarget(ev.descriptor, a!.ring) % 3]!;
            held.set(runtime, (held.get(runtime) ?? 0) + 1);
          }
        }
        await batch.close();
        assert.deepEqual([...held.keys()].sort(), RUNTIMES, "products on every runtime");
      },
    );

    await t.step("the client knows each target's runtime and its URL", () => {
      for (const store of [a!, b!, c!]) {
        assert.deepEqual(store.ring.runtimes, RUNTIMES);
      }
    });

    await t.step(
      "any runtime answers a load of any product, large ones over the data plane",
      async () => {
        for (const store of [a!, b!, c!]) {
          const run = await (await store.root().dataSet("spread")).run(1n);
          for (const s of [0n, 5n, 11n]) {
            const sub = await run.subRun(s);
            for await (const ev of sub.events()) {
              const seed = Number(s) * 10 + Number(ev.number);
              const products = [
                { item: ev.descriptor, label: "small", type: "bytes" },
                { item: ev.descriptor, label: "large", type: "bytes" },
              ];
              // `load` runs on the runtime it reaches, not the one holding the target.
              const r = await store.call<{ values: Uint8Array[] }>("load", { products });
              assert.deepEqual(r.values, [value(seed, small), value(seed, large)]);
            }
          }
        }
      },
    );

    await t.step("every runtime loads every product, large ones over the data plane", async () => {
      for (const store of [a!, b!, c!]) {
        const run = await (await store.root().dataSet("spread")).run(1n);
        for (const s of [0n, 5n, 11n]) {
          const sub = await run.subRun(s);
          for await (const ev of sub.events()) {
            const seed = Number(s) * 10 + Number(ev.number);
            assert.deepEqual(await ev.load("small", "bytes"), value(seed, small));
            assert.deepEqual(await ev.load("large", "bytes"), value(seed, large));
          }
        }
      }
    });

    await t.step(
      "mid-size products of a batch, packed on their target's runtime, load from every runtime",
      async () => {
        // 48 of 40 kB in a batch of 64: about 16 per runtime's request, 640 kB, past PACK_MIN_BYTES.
        const mid = 40_000;
        const batch = new WriteBatch(a!, { maxBatchSize: 64 });
        const run = await (await a!.root().dataSet("spread")).run(1n);
        const events = [];
        for (let s = 0n; s < 12n; s++) {
          events.push(...await collect((await run.subRun(s)).events()));
        }
        for (const [i, ev] of events.entries()) {
          await ev.store("mid", "bytes", value(i, mid), { batch });
        }
        await batch.close();
        for (const store of [a!, b!, c!]) {
          const got = await store.loadProducts(
            events.map((ev) => ({ item: ev.descriptor, label: "mid", type: "bytes" })),
          );
          got.forEach((g, i) => assert.deepEqual(g, value(i, mid), `product ${i}`));
          const range = await store.loadProducts([{
            item: events[7]!.descriptor,
            label: "mid",
            type: "bytes",
            offset: 39_990,
            length: 10,
          }]);
          assert.deepEqual(range[0], value(7, mid).subarray(39_990));
          // `load` runs on the runtime it reaches: values of packs other runtimes hold come over
          // the data plane.
          const products = events.slice(0, 12).map((ev) => ({
            item: ev.descriptor,
            label: "mid",
            type: "bytes",
          }));
          const r = await store.call<{ values: Uint8Array[] }>("load", { products });
          r.values.forEach((v, i) => assert.deepEqual(v, value(i, mid), `product ${i} by load`));
        }
      },
    );

    await t.step(
      "events(target): the union over targets ascending is the global order",
      async () => {
        const d = await c!.root().dataSet("spread");
        const all = await collect(d.events());
        const union = [];
        for (let tg = 0; tg < c!.numTargets; tg++) union.push(...await collect(d.events(tg)));
        assert.equal(all.length, 48);
        assert.deepEqual(union.map((e) => e.descriptor), all.map((e) => e.descriptor));
        // A prefetcher on b reads ahead the large products of a subrun, wherever they are held.
        const prefetcher = new Prefetcher(b!, { cacheSize: 8, batchSize: 8 });
        prefetcher.fetchProduct("large", "bytes");
        const sub = await (await (await b!.root().dataSet("spread")).run(1n)).subRun(3n);
        for await (const ev of prefetcher.walk(sub.events())) {
          const got = await ev.load("large", "bytes", { prefetcher });
          assert.deepEqual(got, value(30 + Number(ev.number), large));
        }
      },
    );

    await t.step(
      "a parallel processor with ranks on different runtimes sees each event once",
      async () => {
        const stores = [a!, b!, c!];
        for (const ranks of [1, 5, 6, 13]) {
          const seen: string[] = [];
          await Promise.all([...Array(ranks).keys()].map(async (rank) => {
            const store = stores[rank % 3]!;
            const pep = new ParallelEventProcessor(store, {
              job: `spread-${ranks}`,
              rank,
              ranks,
              inputBatchSize: 4,
              outputBatchSize: 3,
            });
            pep.preload("small", "bytes");
            await pep.process(await store.root().dataSet("spread"), (event, products) => {
              const seed = Number(event.subrun) * 10 + Number(event.number);
              assert.deepEqual(products.get("small#bytes"), value(seed, small));
              seen.push(`${event.subrun}.${event.number}`);
            });
          }));
          assert.equal(seen.length, 48, `${ranks} ranks`);
          assert.equal(new Set(seen).size, 48, `${ranks} ranks processed an event twice`);
        }
      },
    );

    await t.step(
      "a processor's calls go to the runtime of its job straight, not through the one connected",
      async () => {
        // A job whose name hashes to runtime c, run from a client connected to a.
        const job = [...Array(100).keys()].map((i) => `direct-${i}`)
          .find((j) => a!.runtimeOfKey(new TextEncoder().encode(j)) === 2)!;
        const posts = async () =>
          await Promise.all(cluster.runtimes.map(async (p) => {
            const text = await (await fetch(`${p.url}/metrics`)).text();
            const line = text.split("\n").find((l) =>
              l.startsWith("strata_http_request_duration_seconds_count{") &&
              l.includes('route="/v1/services/:name/:operation"') && l.includes('method="POST"') &&
              l.includes('status="200"')
            );
            return Number(line?.split(" ").at(-1) ?? 0);
          }));
        const spread = await a!.root().dataSet("spread");
        const before = await posts();
        const pep = new ParallelEventProcessor(a!, { job, rank: 0, ranks: 1, outputBatchSize: 16 });
        let n = 0;
        await pep.process(spread, () => void n++);
        assert.equal(n, 48);
        const after = await posts();
        assert.deepEqual([after[0]! - before[0]!, after[1]! - before[1]!], [0, 0]);
        assert.ok(after[2]! - before[2]! >= 4, "start and the batches, on c");
      },
    );

    await t.step(
      "a runtime down: its targets' stores and its blobs are 503 naming it",
      async () => {
        await cluster.kill(2);
        await new Promise((r) => setTimeout(r, 3500)); // its lease lapses
        const run = await (await a!.root().dataSet("spread")).run(1n);
        let onC: { ev: Awaited<ReturnType<typeof run.subRun>>; s: bigint } | undefined;
        let onA: typeof onC;
        for (let s = 0n; s < 12n && (onC === undefined || onA === undefined); s++) {
          const sub = await run.subRun(s);
          const r = RUNTIMES[productTarget(sub.descriptor, a!.ring) % 3];
          if (r === "c") onC ??= { ev: sub, s };
          if (r === "a") onA ??= { ev: sub, s };
        }
        assert.ok(onC !== undefined && onA !== undefined);
        const ev = await onC.ev.event(0n);
        const stored = await assert.rejects(ev.store("more", "bytes", value(1, 10)), (e) => {
          assert.ok(e instanceof UnavailableError, String(e));
          assert.match(e.message, /'c'/);
          return true;
        });
        void stored;
        await assert.rejects(ev.load("large", "bytes"), (e) => {
          assert.ok(e instanceof UnavailableError, String(e));
          assert.match(e.message, /'c'/);
          return true;
        });
        // Small products are in the name server's KV, and the others' targets still work.
        assert.deepEqual(await ev.load("small", "bytes"), value(Number(onC.s) * 10, small));
        const ok = await onA.ev.event(0n);
        assert.equal(await ok.store("more", "bytes", value(2, 10)), true);
        assert.deepEqual(await ok.load("large", "bytes"), value(Number(onA.s) * 10, large));
      },
    );
  } finally {
    await cluster.stop();
  }
});
