/**
 * HEPnOS's product cache answers what KV holds: after its own stores, after
 * another writer's commits through the same KV, and not at all where it
 * could not see every write (a KV reached over HTTP, another runtime's
 * targets).
 */
import assert from "node:assert/strict";
import {
  BlobStore,
  LocalMetaKv,
  type MetaKv,
  ServiceMeta,
  TargetRing,
} from "../src/services/mod.ts";
import { encodeItem, INVALID } from "../src/services/hepnos/codec.ts";
import { productTarget } from "../src/services/hepnos/placement.ts";
import { HepnosStore, type OverwritePolicy } from "../src/services/hepnos/store.ts";
import { KIND_DEFAULTS, MemoryTier, TierSet } from "../src/tiers/mod.ts";

const spec = { name: "mem", kind: "memory", capacity: 1 << 26, ...KIND_DEFAULTS.memory } as const;

/** A store named `node` over `kv`, with a ring of `runtimes`. */
function storeOver(
  kv: MetaKv,
  options: {
    node?: string;
    runtimes?: string[];
    overwrite?: OverwritePolicy;
    cacheBytes?: number;
  } = {},
): HepnosStore {
  const node = options.node ?? "n";
  const tiers = new TierSet({ node, tiers: [{ tier: new MemoryTier("mem", 1 << 26), spec }] });
  const meta = new ServiceMeta(kv, "hepnos", new BlobStore("hepnos", tiers, { durable: false }));
  const ring = new TargetRing(4, { runtimes: options.runtimes ?? [node] });
  return new HepnosStore(meta, ring, options.overwrite ?? "overwrite", {
    node,
    ...(options.cacheBytes === undefined ? {} : { cacheBytes: options.cacheBytes }),
  });
}

/** A KV that forwards to `inner` but reports no commits, as the name server's over HTTP. */
function unwatched(inner: MetaKv): MetaKv {
  return {
    getMany: (keys) => inner.getMany(keys),
    list: (scan) => inner.list(scan),
    commit: (m, c) => inner.commit(m, c),
    close: () => Promise.resolve(),
  };
}

/** Events 0..n-1 of run 1 of a dataset, event e in subrun e mod 8, created through `store`. */
async function events(store: HepnosStore, n: number): Promise<Uint8Array[]> {
  const ds = await store.createDataSet("", "d");
  const item = (subrun: bigint, event: bigint) =>
    encodeItem({ uuid: ds.uuid, run: 1n, subrun, event });
  await store.create([
    item(INVALID, INVALID),
    ...Array.from({ length: 8 }, (_, s) => item(BigInt(s), INVALID)),
  ]);
  const out = Array.from({ length: n }, (_, e) => item(BigInt(e % 8), BigInt(e)));
  await store.create(out);
  return out;
}

const product = (item: Uint8Array, value: number[]) => ({
  item,
  label: "hits",
  type: "bytes",
  value: new Uint8Array(value),
});
const read = (item: Uint8Array) => ({ item, label: "hits", type: "bytes" });

Deno.test("HepnosStore.load() answers the last store, whole or a range, with and without its cache", async () => {
  for (const cacheBytes of [0, 1 << 20]) {
    const kv = await Deno.openKv(":memory:");
    const store = storeOver(new LocalMetaKv(kv), { cacheBytes });
    const [e0, e1] = await events(store, 2);
    assert.deepEqual(await store.store([product(e0!, [1, 2, 3])]), [true]);
    assert.deepEqual(await store.load([read(e0!), read(e0!), read(e1!)]), [
      new Uint8Array([1, 2, 3]),
      new Uint8Array([1, 2, 3]),
      undefined,
    ]);
    await store.store([product(e0!, [4, 5, 6]), product(e1!, [7])]);
    assert.deepEqual(await store.load([read(e0!), read(e1!)]), [
      new Uint8Array([4, 5, 6]),
      new Uint8Array([7]),
    ]);
    assert.deepEqual(await store.load([{ ...read(e0!), offset: 1, length: 1 }]), [
      new Uint8Array([5]),
    ]);
    kv.close();
  }
});

Deno.test("HepnosStore keeping first values answers the first store after a refused second", async () => {
  const kv = await Deno.openKv(":memory:");
  const store = storeOver(new LocalMetaKv(kv), { overwrite: "keep" });
  const [e0] = await events(store, 1);
  assert.deepEqual(await store.store([product(e0!, [1])]), [true]);
  assert.deepEqual(await store.store([product(e0!, [2])]), [false]);
  assert.deepEqual(await store.load([read(e0!)]), [new Uint8Array([1])]);
  kv.close();
});

Deno.test("HepnosStore's cache drops a product another writer stores through the same KV", async () => {
  const kv = await Deno.openKv(":memory:");
  const shared = new LocalMetaKv(kv);
  // Two runtimes without a `runtimes` list: either takes any target.
  const a = storeOver(shared, { node: "a" });
  const b = storeOver(shared, { node: "b" });
  const [e0] = await events(a, 1);
  await a.store([product(e0!, [1])]);
  assert.deepEqual(await a.load([read(e0!)]), [new Uint8Array([1])]);
  await b.store([product(e0!, [2])]);
  assert.deepEqual(await a.load([read(e0!)]), [new Uint8Array([2])]);
  a.close();
  b.close();
  await shared.close();
  kv.close();
});

Deno.test("HepnosStore over a KV that reports no commits caches only its own runtime's targets", async () => {
  const kv = await Deno.openKv(":memory:");
  const shared = new LocalMetaKv(kv);
  // Without a `runtimes` list, another runtime may write any target: nothing is cached.
  const alone = storeOver(unwatched(shared), { node: "a" });
  const other = storeOver(unwatched(shared), { node: "b" });
  const items = await events(alone, 16);
  await alone.store(items.map((e) => product(e, [1])));
  assert.ok((await alone.load(items.map(read))).every((v) => v?.[0] === 1));
  await other.store(items.map((e) => product(e, [2])));
  assert.ok((await alone.load(items.map(read))).every((v) => v?.[0] === 2));
  // With one, the host routes the stores of b's targets to b: 'a' caches none of them.
  const ring = new TargetRing(4, { runtimes: ["a", "b"] });
  const a = storeOver(unwatched(shared), { node: "a", runtimes: ["a", "b"] });
  const b = storeOver(unwatched(shared), { node: "b", runtimes: ["a", "b"] });
  const ofB = items.filter((e) => ring.runtimeOf(productTarget(e, ring)) === "b");
  assert.ok(ofB.length > 0 && ofB.length < items.length);
  assert.ok((await a.load(items.map(read))).every((v) => v?.[0] === 2));
  await b.store(ofB.map((e) => product(e, [3])));
  assert.ok((await a.load(ofB.map(read))).every((v) => v?.[0] === 3));
  await shared.close();
  kv.close();
});

Deno.test("HepnosStore answers what KV holds after concurrent stores and loads of one product", async () => {
  const kv = await Deno.openKv(":memory:");
  const shared = new LocalMetaKv(kv);
  const store = storeOver(shared);
  const plain = storeOver(shared, { cacheBytes: 0 });
  const [e0] = await events(store, 1);
  const work: Promise<unknown>[] = [];
  for (let i = 0; i < 40; i++) {
    work.push(store.store([product(e0!, [i])]));
    work.push(store.load([read(e0!)]));
  }
  await Promise.all(work);
  const [held] = await plain.load([read(e0!)]);
  assert.deepEqual(await store.load([read(e0!)]), [held]);
  await shared.close();
  kv.close();
});
