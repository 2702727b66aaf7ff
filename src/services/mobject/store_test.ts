import assert from "node:assert/strict";
import { KIND_DEFAULTS, MemoryTier, TierSet } from "../../tiers/mod.ts";
import { StrataError } from "../../errors.ts";
import { BlobStore } from "../blobs.ts";
import { ServiceMeta } from "../meta.ts";
import { TargetRing } from "../targets.ts";
import { ERRNO, type WriteOp } from "./ops.ts";
import { ObjectStore } from "./store.ts";

async function openStore(chunkBytes: number) {
  const spec = { name: "mem", kind: "memory", capacity: 1 << 26, ...KIND_DEFAULTS.memory } as const;
  const tiers = new TierSet({ node: "n", tiers: [{ tier: new MemoryTier("mem", 1 << 26), spec }] });
  const kv = await Deno.openKv(":memory:");
  const meta = new ServiceMeta(kv, "mobject", new BlobStore("mobject", tiers, { durable: false }));
  return { kv, meta, store: new ObjectStore(meta, new TargetRing(3), chunkBytes) };
}

/** The object as a byte array and a map: what every op list must leave. */
interface Model {
  exists: boolean;
  bytes: Uint8Array;
  omap: Map<string, Uint8Array>;
}

/** Applies a list to the model, all or nothing; the errno it fails with, or 0. */
function applyModel(m: Model, ops: readonly WriteOp[]): number {
  const d: Model = { exists: m.exists, bytes: m.bytes.slice(), omap: new Map(m.omap) };
  const grow = (n: number) => {
    if (n > d.bytes.length) {
      const b = new Uint8Array(n);
      b.set(d.bytes);
      d.bytes = b;
    }
  };
  const create = () => {
    if (!d.exists) {
      d.exists = true;
      d.bytes = new Uint8Array(0);
      d.omap = new Map();
    }
  };
  for (const op of ops) {
    switch (op.op) {
      case "create":
        if (d.exists && op.exclusive) return ERRNO.EEXIST;
        create();
        break;
      case "write":
        create();
        grow(op.offset + op.data.length);
        d.bytes.set(op.data, op.offset);
        break;
      case "write_full":
        create();
        d.bytes = op.data.slice();
        break;
      case "writesame":
        create();
        grow(op.offset + op.length);
        for (let at = 0; at < op.length; at += op.data.length) {
          d.bytes.set(op.data, op.offset + at);
        }
        break;
      case "append":
        create();
        grow(d.bytes.length + op.data.length);
        d.bytes.set(op.data, d.bytes.length - op.data.length);
        break;
      case "remove":
        if (!d.exists) return ERRNO.ENOENT;
        d.exists = false;
        d.bytes = new Uint8Array(0);
        d.omap = new Map();
        break;
      case "truncate":
        create();
        if (op.size <= d.bytes.length) d.bytes = d.bytes.slice(0, op.size);
        else grow(op.size);
        break;
      case "zero":
        if (!d.exists) return ERRNO.ENOENT;
        d.bytes.fill(0, op.offset, Math.min(d.bytes.length, op.offset + op.length));
        break;
      case "omap_set":
        create();
        op.keys.forEach((k, i) => d.omap.set(k, op.values[i]!));
        break;
      case "omap_rm_keys":
        if (!d.exists) return ERRNO.ENOENT;
        for (const k of op.keys) d.omap.delete(k);
        break;
      case "omap_clear":
        if (!d.exists) return ERRNO.ENOENT;
        d.omap.clear();
        break;
    }
  }
  Object.assign(m, d);
  return 0;
}

function mulberry(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("ObjectStore: random op lists leave every object as a byte array and a map would", async () => {
  // Chunks of 16 bytes, objects of up to ~300: writes across chunk
  // boundaries, sparse chunks, truncates that cut chunks, and truncates
  // dropping more than 450 chunks (a new data generation) now and then.
  for (const seed of [1, 2, 3, 4]) {
    const { kv, store } = await openStore(16);
    const rnd = mulberry(seed);
    const int = (n: number) => Math.floor(rnd() * n);
    const data = () => new Uint8Array(int(40) + 1).map(() => int(255) + 1);
    const models = new Map<string, Model>();
    const names = ["a", "b", "c"];
    for (const n of names) {
      models.set(n, { exists: false, bytes: new Uint8Array(0), omap: new Map() });
    }
    const randomOp = (): WriteOp => {
      switch (int(12)) {
        case 0:
          return { op: "create", exclusive: rnd() < 0.3 };
        case 1:
        case 2:
          return { op: "write", data: data(), offset: int(300) };
        case 3:
          return { op: "write_full", data: data() };
        case 4: {
          const d = new Uint8Array(int(4) + 1).map(() => int(255) + 1);
          return { op: "writesame", data: d, length: d.length * (int(10) + 1), offset: int(200) };
        }
        case 5:
          return { op: "append", data: data() };
        case 6:
          return { op: "remove" };
        case 7:
          return { op: "truncate", size: rnd() < 0.1 ? 8000 + int(200) : int(320) };
        case 8:
          return { op: "zero", offset: int(300), length: int(80) };
        case 9:
          return {
            op: "omap_set",
            keys: ["k1", `k${int(5)}`],
            values: [data(), data()],
          };
        case 10:
          return { op: "omap_rm_keys", keys: [`k${int(5)}`] };
        default:
          return { op: "omap_clear" };
      }
    };
    for (let round = 0; round < 250; round++) {
      const name = names[int(3)]!;
      const ops = Array.from({ length: int(4) + 1 }, randomOp);
      const m = models.get(name)!;
      const want = applyModel(m, ops);
      let got = 0;
      try {
        await store.operate("p", name, ops);
      } catch (e) {
        if (!(e instanceof StrataError) || typeof e.fields.errno !== "number") throw e;
        got = e.fields.errno;
      }
      const what = `seed ${seed} round ${round}: ${JSON.stringify(ops.map((o) => o.op))}`;
      assert.equal(got, want, what);
      if (!m.exists) {
        await assert.rejects(store.read("p", name, [{ op: "stat" }]), /no object/, what);
        continue;
      }
      const [stat, read, omap] = await store.read("p", name, [
        { op: "stat" },
        { op: "read", offset: 0, length: 1 << 20 },
        { op: "omap_get_vals", startAfter: "", prefix: "", max: 100 },
      ]);
      assert.equal((stat as { size: number }).size, m.bytes.length, what);
      assert.deepEqual((read as { data: Uint8Array }).data, m.bytes, what);
      const o = omap as { keys: string[]; values: Uint8Array[] };
      assert.deepEqual(o.keys, [...m.omap.keys()].sort(), what);
      assert.deepEqual(o.values, o.keys.map((k) => m.omap.get(k)), what);
    }
    kv.close();
  }
});

Deno.test("ObjectStore: the RADOS behaviours of Ceph's librados tests", async () => {
  const { kv, store } = await openStore(4);
  const te = new TextEncoder();
  const read = async (name: string) =>
    new TextDecoder().decode(
      ((await store.read("p", name, [{ op: "read", offset: 0, length: 100 }]))[0] as {
        data: Uint8Array;
      }).data,
    );
  // An exclusive create of an existing object fails, and nothing of its list applies.
  await store.operate("p", "x", [{ op: "create", exclusive: true }]);
  await assert.rejects(
    store.operate("p", "x", [
      { op: "write", data: te.encode("zz"), offset: 0 },
      { op: "create", exclusive: true },
    ]),
    (e: StrataError) => e.fields.errno === ERRNO.EEXIST && e.fields.op === 1,
  );
  assert.equal(await read("x"), "");
  // A write and a write_full in one op: the object is the write_full's.
  await store.operate("p", "w", [
    { op: "write", data: te.encode("hello world"), offset: 0 },
    { op: "write_full", data: te.encode("hi") },
  ]);
  assert.equal(await read("w"), "hi");
  // truncate(1) then append("hi"): 3 bytes.
  await store.operate("p", "w", [{ op: "truncate", size: 1 }, {
    op: "append",
    data: te.encode("hi"),
  }]);
  assert.equal(await read("w"), "hhi");
  // writesame("four", 16) at 0.
  await store.operate("p", "s", [{
    op: "writesame",
    data: te.encode("four"),
    length: 16,
    offset: 0,
  }]);
  assert.equal(await read("s"), "fourfourfourfour");
  // zero then remove in one op: the object is gone.
  await store.operate("p", "s", [{ op: "zero", offset: 0, length: 4 }, { op: "remove" }]);
  await assert.rejects(
    store.read("p", "s", [{ op: "stat" }]),
    (e: StrataError) => e.fields.errno === ERRNO.ENOENT,
  );
  // A remove of a missing object, and omap reads of one, are ENOENT.
  await assert.rejects(
    store.operate("p", "s", [{ op: "remove" }]),
    (e: StrataError) => e.fields.errno === ERRNO.ENOENT,
  );
  // A short read answers what the object holds.
  assert.equal(await read("w"), "hhi");
  // omap keys in order, with prefix, start-after and max.
  await store.operate("p", "m", [{
    op: "omap_set",
    keys: ["key1", "key2", "other", "key3"],
    values: [te.encode("1"), te.encode("2"), te.encode("o"), te.encode("3")],
  }]);
  const [vals, keys, byKeys] = await store.read("p", "m", [
    { op: "omap_get_vals", startAfter: "key1", prefix: "key", max: 1 },
    { op: "omap_get_keys", startAfter: "", max: 10 },
    { op: "omap_get_vals_by_keys", keys: ["key3", "nope", "key1"] },
  ]);
  assert.deepEqual(vals, { keys: ["key2"], values: [te.encode("2")], more: true });
  assert.deepEqual(keys, { keys: ["key1", "key2", "key3", "other"], more: false });
  assert.deepEqual(byKeys, {
    keys: ["key3", "key1"],
    values: [te.encode("3"), te.encode("1")],
    more: false,
  });
  // A removed and created again object has nothing of its first life.
  await store.operate("p", "m", [{ op: "remove" }, {
    op: "write",
    data: te.encode("new"),
    offset: 0,
  }]);
  const [again] = await store.read("p", "m", [{ op: "omap_get_keys", startAfter: "", max: 10 }]);
  assert.deepEqual(again, { keys: [], more: false });
  assert.deepEqual(await store.list("p", undefined, 10), ["m", "w", "x"]);
  kv.close();
});

Deno.test("ObjectStore: sizes a request could abuse stay bounded (sparse terabytes, huge writesame and reads)", async () => {
  const { kv, store } = await openStore(1 << 20);
  const { readOps, writeOps } = await import("./ops.ts");
  // A sparse object of 1 TiB: zeroing, reading and truncating it touch only the chunks it holds.
  await store.operate("p", "sparse", [
    { op: "write", data: new Uint8Array([1, 2, 3]), offset: 5 },
    { op: "truncate", size: 2 ** 40 },
    { op: "write", data: new Uint8Array([9]), offset: 2 ** 40 - 1 },
  ]);
  await store.operate("p", "sparse", [{ op: "zero", offset: 6, length: 2 ** 40 }]);
  const [tail, head] = await store.read("p", "sparse", [
    { op: "read", offset: 2 ** 40 - 4, length: 8 },
    { op: "read", offset: 0, length: 10 },
  ]);
  assert.deepEqual([...(tail as { data: Uint8Array }).data], [0, 0, 0, 0]);
  assert.deepEqual([...(head as { data: Uint8Array }).data], [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
  await store.operate("p", "sparse", [{ op: "truncate", size: 0 }]);
  const [stat] = await store.read("p", "sparse", [{ op: "stat" }]);
  assert.equal((stat as { size: number }).size, 0);
  // Ops that would allocate without bound are refused before they run.
  assert.throws(
    () =>
      writeOps({ ops: [{ op: "writesame", data: new Uint8Array(1), length: 2 ** 39, offset: 0 }] }),
    (e: StrataError) => e.fields.errno === ERRNO.EINVAL,
  );
  assert.throws(() => readOps({ ops: [{ op: "read", offset: 0, length: 2 ** 30 }] }), /length/);
  assert.throws(
    () => readOps({ ops: Array(5).fill({ op: "read", offset: 0, length: 64 << 20 }) }),
    /reads more than/,
  );
  kv.close();
});

Deno.test("ObjectStore.sweep() deletes the chunks and omap keys a crash left unnamed, and nothing else", async () => {
  const { kv, meta, store } = await openStore(16);
  try {
    const data = new Uint8Array(40).map((_, i) => i);
    await store.operate("p", "live", [
      { op: "write_full", data },
      { op: "omap_set", keys: ["k"], values: [new Uint8Array([1])] },
    ]);
    const t = store.targetOf("p", "live");
    const record = JSON.parse(new TextDecoder().decode(await meta.get(["obj", t, "p", "live"])));
    const one = new Uint8Array([9]);
    // What crashes between a commit and its cleanup leave: chunks of an older data
    // generation, chunks and omap keys of an earlier incarnation, keys of a removed object.
    const tg = store.targetOf("p", "gone");
    const orphans: Deno.KvKey[] = [
      ["chunk", t, "p", "live", record.incarnation, record.dataGen + 1, 0],
      ["chunk", t, "p", "live", "old-incarnation", 0, 0],
      ["chunk", t, "p", "live", "old-incarnation", 0, 1],
      ["omap", t, "p", "live", "old-incarnation", "x"],
      ["chunk", tg, "p", "gone", "its-incarnation", 0, 0],
      ["omap", tg, "p", "gone", "its-incarnation", "y"],
    ];
    await meta.write(orphans.map((key) => ({ type: "set", key, value: one })));
    assert.equal(await store.sweep([0, 1, 2], () => true), 0, "a stopped sweep deletes nothing");
    assert.equal(await store.sweep([0, 1, 2]), orphans.length);
    for (const key of orphans) assert.equal(await meta.get(key), undefined, String(key));
    const [read, omap] = await store.read("p", "live", [
      { op: "read", offset: 0, length: 40 },
      { op: "omap_get_vals", startAfter: "", prefix: "", max: 10 },
    ]);
    assert.deepEqual((read as { data: Uint8Array }).data, data);
    assert.deepEqual((omap as { keys: string[] }).keys, ["k"]);
    assert.equal(await store.sweep([0, 1, 2]), 0, "a second sweep finds nothing");
  } finally {
    kv.close();
  }
});
