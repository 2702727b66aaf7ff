import assert from "node:assert/strict";
import { InvalidRequestError, NotFoundError } from "../../errors.ts";
import { KIND_DEFAULTS, MemoryTier, TierSet } from "../../tiers/mod.ts";
import { BlobStore, ServiceMeta, TargetRing } from "../mod.ts";
import { decodeItem, encodeItem, INVALID } from "./codec.ts";
import { HepnosStore } from "./store.ts";

/** A store over a fresh KV, and a second store over the same keys that has seen no item. */
async function open() {
  const spec = { name: "mem", kind: "memory", capacity: 1 << 24, ...KIND_DEFAULTS.memory } as const;
  const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 24), spec }] });
  const kv = await Deno.openKv(":memory:");
  const meta = new ServiceMeta(kv, "hepnos", new BlobStore("hepnos", tiers, { durable: false }));
  const writer = new HepnosStore(meta, new TargetRing(4), "keep");
  const fresh = new HepnosStore(meta, new TargetRing(4), "keep");
  const ds = await writer.createDataSet("", "d");
  const run = { uuid: ds.uuid, run: 1n, subrun: INVALID, event: INVALID };
  const sub = { ...run, subrun: 0n };
  const event = (n: bigint) => encodeItem({ ...sub, event: n });
  await writer.create([encodeItem(run), encodeItem(sub)]);
  return { kv, writer, fresh, event };
}

const product = (item: Uint8Array) => ({ item, label: "l", type: "t", value: new Uint8Array([1]) });

Deno.test("HepnosStore.store() checks a batch's unseen events as one key range, and names a missing one", async () => {
  const { kv, writer, fresh, event } = await open();
  // Events 0 to 99 but 57.
  await writer.create([...Array(100).keys()].filter((n) => n !== 57).map((n) => event(BigInt(n))));
  const batch = [...Array(64).keys()].map((n) => product(event(BigInt(n + 20))));
  await assert.rejects(fresh.store(batch), (e: unknown) => {
    assert.ok(e instanceof NotFoundError);
    assert.match(e.message, /event 57/);
    return true;
  });
  const ok = [...Array(30).keys()].map((n) => product(event(BigInt(n + 58))));
  assert.deepEqual(await fresh.store(ok), ok.map(() => true));
  kv.close();
});

Deno.test("HepnosStore.store() reads events key by key when their range holds many others", async () => {
  const { kv, writer, fresh, event } = await open();
  await writer.create([...Array(200).keys()].map((n) => event(BigInt(n))));
  // Four events spread over 200: their range holds 200 keys, past four per event.
  const spread = [0n, 66n, 133n, 199n].map((n) => product(event(n)));
  assert.deepEqual(await fresh.store(spread), [true, true, true, true]);
  await assert.rejects(fresh.store([...spread, product(event(500n))]), NotFoundError);
  kv.close();
});

Deno.test("HepnosStore.create() refuses a dataset, a malformed or short descriptor and a missing parent, writing nothing", async () => {
  const { kv, writer, event } = await open();
  const sub = decodeItem(event(0n));
  const uuid = sub.uuid;
  const count = async () => {
    let n = 0;
    for await (const _ of kv.list({ prefix: ["svc", "hepnos"] })) n++;
    return n;
  };
  const before = await count();
  const dataset = encodeItem({ uuid, run: INVALID, subrun: INVALID, event: INVALID });
  await assert.rejects(writer.create([event(1n), dataset]), (e: unknown) => {
    assert.ok(e instanceof InvalidRequestError);
    assert.match(e.message, /created by name/);
    return true;
  });
  const skipping = encodeItem({ uuid, run: 1n, subrun: INVALID, event: 3n });
  await assert.rejects(writer.create([event(1n), skipping]), /skips a level/);
  await assert.rejects(writer.create([event(1n), new Uint8Array(39)]), /expected 40 bytes/);
  // Events of subrun 9, which nobody created: the subrun is named.
  const orphan = encodeItem({ ...sub, subrun: 9n, event: 1n });
  await assert.rejects(writer.create([event(1n), orphan]), (e: unknown) => {
    assert.ok(e instanceof NotFoundError);
    assert.match(e.message, /subrun 9/);
    return true;
  });
  assert.equal(await count(), before, "nothing written by a refused create");
  // The same subrun created in the request with its events: accepted.
  const parent = encodeItem({ ...sub, subrun: 9n, event: INVALID });
  assert.equal(
    await writer.create([parent, orphan, encodeItem({ ...sub, subrun: 9n, event: 2n })]),
    3,
  );
  assert.equal(await count(), before + 3);
  kv.close();
});
