import assert from "node:assert/strict";
import { ClosedError } from "../errors.ts";
import { GroupCommitter, keyBytesOf, type Mutation, mutationBytes } from "./group_commit.ts";

const set = (key: Deno.KvKey, value: unknown): Mutation => ({ type: "set", key, value });

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

Deno.test("GroupCommitter.write() commits concurrent writes in one atomic and resolves after it", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    const writes = Array.from({ length: 300 }, (_, i) => gc.write([set(["k", i], i)]));
    assert.equal(gc.queued, 300);
    const results = await Promise.all(writes);
    assert.ok(results.every((r) => r.ok));
    assert.equal(gc.commits, 1);
    assert.equal(gc.writes, 300);
    assert.equal((await kv.get(["k", 299])).value, 299);
  });
});

Deno.test("GroupCommitter.write() splits a burst into atomics within the mutation limit", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv, { maxMutations: 10 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => gc.write([set(["k", i], i)])));
    assert.equal(gc.commits, 3);
  });
});

Deno.test("GroupCommitter.write() splits a burst within the key-size limit", async () => {
  await withKv(async (kv) => {
    const key = (i: number) => ["k", "x".repeat(100), i];
    const gc = new GroupCommitter(kv);
    await Promise.all(Array.from({ length: 900 }, (_, i) => gc.write([set(key(i), i)])));
    // 900 keys of about 120 bytes exceed the 80 KiB KV allows in one atomic.
    assert.ok(900 * keyBytesOf(key(0)) > 80 * 1024);
    assert.equal(gc.commits, 2);
  });
});

Deno.test("GroupCommitter.write() keeps a key's last value when two writes of one atomic set it", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    await Promise.all([
      gc.write([set(["a"], 1), set(["b"], 1)]),
      gc.write([set(["a"], 2)]),
      gc.write([{ type: "delete", key: ["b"] }]),
    ]);
    assert.equal(gc.commits, 1);
    assert.equal((await kv.get(["a"])).value, 2);
    assert.equal((await kv.get(["b"])).value, null);
  });
});

Deno.test("GroupCommitter.write() keeps a key's last value with a checked write in the atomic too", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    const [first, , checked] = await Promise.all([
      gc.write([set(["a"], 1), set(["b"], 1)]),
      gc.write([set(["a"], 2), { type: "delete", key: ["b"] }]),
      gc.write([set(["c"], 3)], [{ key: ["c"], versionstamp: null }]),
    ]);
    assert.ok(first.ok && checked.ok);
    assert.equal(gc.commits, 1);
    assert.equal((await kv.get(["a"])).value, 2);
    assert.equal((await kv.get(["b"])).value, null);
    assert.equal((await kv.get(["c"])).value, 3);
  });
});

Deno.test("GroupCommitter.write() fits a group of repeated keys taken while a checked write waits", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    // 1500 mutations of 1000 keys fit one atomic (KV takes 1000) once each
    // key is sent once; the checked write queued behind them makes the group
    // count keys, not writes. Sent as they are, KV would refuse the atomic
    // and each write would commit on its own.
    const writes = Array.from({ length: 1500 }, (_, i) => gc.write([set(["k", i % 1000], i)]));
    const checked = gc.write([set(["c"], 1)], [{ key: ["c"], versionstamp: null }]);
    const results = await Promise.all([...writes, checked]);
    assert.ok(results.every((r) => r.ok));
    assert.equal((await kv.get(["k", 3])).value, 1003);
    assert.equal(gc.commits, 2);
  });
});

Deno.test("Deno KV applies an atomic's mutations in order: a key written twice keeps the last", async () => {
  // GroupCommitter sends a group's mutations as they are, relying on this.
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  const kv = await Deno.openKv(`${dir}/kv.db`);
  try {
    const op = kv.atomic().set(["k"], 1).set(["k"], 2).set(["d"], 1).delete(["d"]);
    op.delete(["e"]).set(["e"], 5);
    assert.equal((await op.commit()).ok, true);
    assert.equal((await kv.get(["k"])).value, 2);
    assert.equal((await kv.get(["d"])).versionstamp, null);
    assert.equal((await kv.get(["e"])).value, 5);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("GroupCommitter.write() lets exactly one of two check-and-sets of a key succeed", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    const cas = (v: number) => gc.write([set(["x"], v)], [{ key: ["x"], versionstamp: null }]);
    const [a, b, other] = await Promise.all([cas(1), cas(2), gc.write([set(["y"], 1)])]);
    assert.deepEqual([a.ok, b.ok, other.ok], [true, false, true]);
    assert.equal((await kv.get(["x"])).value, 1);
    assert.equal((await kv.get(["y"])).value, 1);
  });
});

Deno.test("GroupCommitter.write() fails only the write that KV refuses, not its neighbours", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    const results = await Promise.allSettled([
      gc.write([set(["a"], 1)]),
      gc.write([set(["big"], new Uint8Array(70_000))]),
      gc.write([set(["c"], 3)]),
    ]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    // KV refused it (a value holds at most 64 KiB), not the size check up front.
    assert.ok(!((results[1] as PromiseRejectedResult).reason instanceof RangeError));
    assert.equal(gc.commits, 2);
    assert.equal((await kv.get(["c"])).value, 3);
    assert.equal((await kv.get(["big"])).value, null);
  });
});

Deno.test("GroupCommitter.write() throws RangeError for a write larger than one atomic", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    const many = Array.from({ length: 1001 }, (_, i) => set(["k", i], i));
    await assert.rejects(gc.write(many), RangeError);
    const checks = Array.from({ length: 11 }, (_, i) => ({ key: ["c", i], versionstamp: null }));
    await assert.rejects(gc.write([set(["k"], 1)], checks), RangeError);
  });
});

Deno.test("GroupCommitter.write() groups and bounds writes by the size their writers give", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv, { maxBytes: 1000 });
    // Tiny writes said to weigh 400 bytes each: two fit in an atomic, not three.
    const size = { bytes: 400, keyBytes: 10 };
    await Promise.all(Array.from({ length: 6 }, (_, i) => gc.write([set(["k", i], i)], [], size)));
    assert.equal(gc.commits, 3);
    await assert.rejects(gc.write([set(["k"], 1)], [], { bytes: 1001, keyBytes: 3 }), RangeError);
  });
});

Deno.test("GroupCommitter.write() makes writers wait when the queue is full", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv, { maxQueue: 4 });
    const writes = Array.from({ length: 20 }, (_, i) => gc.write([set(["k", i], i)]));
    assert.equal(gc.queued, 4);
    let most = 0;
    const watching = Promise.all(writes.map((w) => w.then(() => most = Math.max(most, gc.queued))));
    await watching;
    assert.ok(most <= 4);
    assert.equal((await kv.get(["k", 19])).value, 19);
  });
});

Deno.test("GroupCommitter.write() commits each write alone when grouping is off", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv, { group: false });
    await Promise.all(Array.from({ length: 5 }, (_, i) => gc.write([set(["k", i], i)])));
    assert.equal(gc.commits, 5);
  });
});

Deno.test("GroupCommitter.close() fails queued and later writes with ClosedError", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    const queued = gc.write([set(["k"], 1)]);
    gc.close();
    await assert.rejects(queued, ClosedError);
    await assert.rejects(gc.write([set(["k"], 2)]), ClosedError);
    assert.equal((await kv.get(["k"])).value, null);
  });
});

Deno.test("GroupCommitter.drain() resolves once every queued write is committed", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    const writes = Promise.all([gc.write([set(["a"], 1)]), gc.write([set(["b"], 2)])]);
    await gc.drain();
    assert.equal(gc.writes, 2);
    await writes;
  });
});

/** The estimate as first written: every value through a JSON replacer. */
function referenceBytes(mutations: readonly Mutation[]): number {
  let bytes = 0;
  for (const m of mutations) {
    bytes += keyBytesOf(m.key);
    if (m.type !== "set") continue;
    let binary = 0;
    const json = JSON.stringify(m.value, (_k, v) => {
      if (typeof v === "bigint") return String(v);
      if (ArrayBuffer.isView(v)) {
        binary += v.byteLength;
        return 0;
      }
      return v;
    }) ?? "";
    // deno-lint-ignore no-control-regex
    bytes += 16 + binary + (/^[\x00-\x7f]*$/.test(json) ? json.length : json.length * 2);
  }
  return bytes;
}

Deno.test("mutationBytes() matches the replacer estimate for records, byte arrays, big integers and text", () => {
  const values: unknown[] = [
    { dataset: "p", version: 1, fragment: "cell", bindings: { r: 7 }, node: "n1", checksum: 0 },
    { name: "é", sizes: {}, list: [1, "two", null, true, undefined] },
    { bytes: new Uint8Array(300), nested: [{ big: 12n }] },
    { at: new Date(0), deep: { a: { b: { c: [1.5, -2, 1e300] } } } },
    "plain text",
    42,
    null,
    undefined,
    [new Float64Array(4), 1n, "x"],
  ];
  let seed = 1;
  const rand = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
  for (let i = 0; i < 200; i++) {
    const o: Record<string, unknown> = {};
    for (let k = 0; k < rand(6); k++) o[`k${k}`] = values[rand(values.length)];
    values.push(o);
  }
  for (const value of values) {
    const m: Mutation[] = [{ type: "set", key: ["k", 1], value }];
    assert.equal(mutationBytes(m).bytes, referenceBytes(m));
  }
});

Deno.test("GroupCommitter.beforeTake() calls its hook before the next group: the hook's write joins that group", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    const calls: string[] = [];
    const first = gc.write([set(["a"], 1)]);
    // The first atomic is taken after this turn; the hook runs before it, then again before the second.
    gc.beforeTake(() => calls.push("hook 1"));
    await Promise.resolve();
    let held: Promise<unknown> | undefined;
    gc.beforeTake(() => {
      calls.push("hook 2");
      held = gc.write([set(["held"], 2)]);
    });
    const later = gc.write([set(["b"], 3)]);
    await Promise.all([first, later]);
    await held;
    assert.deepEqual(calls, ["hook 1", "hook 2"]);
    assert.equal(gc.commits, 2);
    assert.equal((await kv.get(["held"])).value, 2);
  });
});

Deno.test("GroupCommitter.close() calls the hooks still waiting: their writes fail with ClosedError", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    const inFlight = gc.write([set(["a"], 1)]);
    await Promise.resolve();
    let held: Promise<unknown> | undefined;
    gc.beforeTake(() => {
      held = gc.write([set(["held"], 2)]);
      held.catch(() => {}); // asserted below
    });
    await gc.close();
    await inFlight;
    await assert.rejects(held!, ClosedError);
    let after: Promise<unknown> | undefined;
    gc.beforeTake(() => after = gc.write([set(["after"], 3)]));
    await assert.rejects(after!, ClosedError);
    assert.equal((await kv.get(["held"])).value, null);
  });
});

Deno.test("GroupCommitter.ride() waits for another write and joins its atomic, while one is in flight too", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    const rides: Promise<unknown>[] = [];
    // Nothing queued: the rider waits (an hour at most here) instead of taking an atomic alone.
    gc.ride(() => rides.push(gc.write([set(["notice", 1], 1)])), 3_600_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(rides.length, 0);
    assert.equal(gc.commits, 0);
    await gc.write([set(["commit", 1], 1)]);
    await Promise.all(rides);
    assert.equal(gc.commits, 1);
    // A rider pushed while an atomic is in flight joins the next group, not one of its own.
    const first = gc.write([set(["commit", 2], 2)]);
    await Promise.resolve();
    gc.ride(() => rides.push(gc.write([set(["notice", 2], 2)])), 3_600_000);
    const next = gc.write([set(["commit", 3], 3)]);
    await Promise.all([first, next]);
    await Promise.all(rides);
    assert.equal(gc.commits, 3);
    assert.equal((await kv.get(["notice", 2])).value, 2);
  });
});

Deno.test("GroupCommitter.ride() goes alone after its wait when no write comes, and fails with ClosedError after close", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    let alone: Promise<unknown> | undefined;
    // A rider waiting longer first does not hold back one with a shorter wait.
    let later: Promise<unknown> | undefined;
    gc.ride(() => later = gc.write([set(["later"], 0)]), 3_600_000);
    gc.ride(() => alone = gc.write([set(["alone"], 1)]), 5);
    const until = Date.now() + 2000;
    while (alone === undefined && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(alone !== undefined, "the rider of 5 ms waited for the one of an hour");
    await later;
    await alone;
    assert.equal(gc.commits, 1);
    assert.equal((await kv.get(["alone"])).value, 1);
    let held: Promise<unknown> | undefined;
    gc.ride(() => {
      held = gc.write([set(["held"], 2)]);
      held.catch(() => {}); // asserted below
    }, 3_600_000);
    await gc.close();
    await assert.rejects(held!, ClosedError);
    assert.equal((await kv.get(["held"])).value, null);
  });
});

Deno.test("GroupCommitter keeps apart keys whose byte parts look alike, in a group sent key by key", async () => {
  await withKv(async (kv) => {
    const gc = new GroupCommitter(kv);
    const u8 = (...b: number[]) => new Uint8Array(b);
    const keys: Deno.KvKey[] = [
      ["k", u8(1, 2)],
      ["k", u8(1), u8(2)],
      ["k", u8(1, 0), "x"],
      ["k", u8(1), "x"],
      ["k", "\u0001\u0002"],
      ["k", u8(0x62, 0x79)],
    ];
    // A check in the group: the atomic then sends each key's last mutation only.
    const writes = keys.map((key, i) =>
      gc.write([set(key, i)], i === 0 ? [{ key: ["free"], versionstamp: null }] : [])
    );
    await Promise.all(writes);
    for (const [i, key] of keys.entries()) assert.equal((await kv.get(key)).value, i);
  });
});
