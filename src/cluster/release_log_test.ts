import assert from "node:assert/strict";
import { ReleaseLog } from "./release_log.ts";
import { GroupCommitter } from "../registry/group_commit.ts";

const copy = (node: string, version: number) => ({
  dataset: "d",
  version,
  fragment: "dataset",
  bindings: {},
  node,
  tier: "memory",
  byteLength: 8,
  checksum: 0,
});

Deno.test("ReleaseLog.poll() wakes a waiting node when a notice for it arrives", async () => {
  const log = new ReleaseLog();
  const waiting = log.poll("a", 0, 60_000);
  log.push([copy("b", 1)]);
  log.push([copy("a", 2)]);
  const got = await waiting;
  assert.deepEqual(got.copies, [copy("a", 2)]);
  assert.equal(got.gap, false);
});

Deno.test("ReleaseLog.poll() says gap when a node fell behind its bound", async () => {
  const log = new ReleaseLog({ maxPerNode: 2 });
  log.push([copy("a", 1), copy("a", 2), copy("a", 3)]);
  const got = await log.poll("a", 0, 0);
  assert.deepEqual(got.copies.map((c) => c.version), [2, 3]);
  assert.equal(got.gap, true);
  const next = await log.poll("a", got.seq, 0);
  assert.deepEqual(next, { epoch: log.epoch, seq: got.seq, copies: [], gap: false });
});

Deno.test("ReleaseLog keeps a node's latest notices at its bound through many pushes and partial reads", async () => {
  // A node that never polls stays at its bound while notices keep coming:
  // its oldest are dropped one by one; reads in between see the latest.
  const max = 50;
  const log = new ReleaseLog({ maxPerNode: max });
  let readUpTo = 0;
  for (let v = 1; v <= 1_000; v++) {
    log.push([copy("a", v), copy("b", v)]);
    if (v % 40 === 0) {
      // Node b reads all it has every 40 pushes, within its bound: never a gap, every notice once.
      const got = await log.poll("b", 2 * readUpTo, 0);
      assert.equal(got.gap, false);
      assert.deepEqual(
        got.copies.map((c) => c.version),
        Array.from({ length: v - readUpTo }, (_, i) => readUpTo + i + 1),
      );
      readUpTo = v;
    }
  }
  const a = await log.poll("a", 0, 0);
  assert.equal(a.gap, true);
  assert.deepEqual(a.copies.map((c) => c.version), Array.from({ length: max }, (_, i) => 951 + i));
  // Acknowledged up to the 20th of those: the other 30 remain, then none.
  const firstSeq = a.seq - 2 * (max - 1);
  const rest = await log.poll("a", firstSeq + 2 * 19, 0);
  assert.equal(rest.gap, false);
  assert.deepEqual(
    rest.copies.map((c) => c.version),
    Array.from({ length: 30 }, (_, i) => 971 + i),
  );
  assert.deepEqual((await log.poll("a", rest.seq, 0)).copies, []);
});

Deno.test("ReleaseLog.poll() returns at once when its signal aborts", async () => {
  const log = new ReleaseLog();
  const ac = new AbortController();
  const waiting = log.poll("a", 0, 60_000, ac.signal);
  ac.abort();
  assert.deepEqual((await waiting).copies, []);
});

Deno.test("ReleaseLog.push() tells every node holding a copy, replicas included, except the one skipped", async () => {
  const log = new ReleaseLog();
  const replicated = {
    ...copy("a", 1),
    replicas: [{ node: "b", tier: "file" }, { node: "c", tier: "memory" }],
  };
  log.push([replicated], "c");
  assert.deepEqual((await log.poll("a", 0, 0)).copies, [replicated]);
  assert.deepEqual((await log.poll("b", 0, 0)).copies, [replicated]);
  assert.deepEqual((await log.poll("c", 0, 0)).copies, []);
});

/** Runs `body` with a fresh KV file under ./tmp, removed afterwards. */
async function withKvFile(body: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "release_log_" });
  try {
    await body(`${dir}/registry.kv`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `kv` with every atomic commit passed through `commit` (told the number of mutations). */
/** A notice as read back from KV: the copy's identity and the node it was kept for. */
const kept = (node: string, version: number) => ({
  dataset: "d",
  version,
  fragment: "dataset",
  bindings: {},
  node,
});

function wrapKv(kv: Deno.Kv, commit: (mutations: number) => Promise<void>): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => {
          const op = target.atomic();
          let mutations = 0;
          const wrapped = {
            check: (...checks: Deno.AtomicCheck[]) => (op.check(...checks), wrapped),
            set: (key: Deno.KvKey, value: unknown) => (mutations++, op.set(key, value), wrapped),
            delete: (key: Deno.KvKey) => (mutations++, op.delete(key), wrapped),
            commit: async () => {
              await commit(mutations);
              return await op.commit();
            },
          };
          return wrapped;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The sequence numbers of the notices stored for `node`, pack by pack. */
async function storedSeqs(kv: Deno.Kv, node: string): Promise<number[]> {
  const packs = await Array.fromAsync(
    kv.list<{ seqs: number[] }>({ prefix: ["release_log", "pack", node] }),
  );
  return packs.flatMap((e) => e.value.seqs);
}

Deno.test("ReleaseLog.open() keeps the epoch and the unread notices across a restart", async () => {
  await withKvFile(async (path) => {
    let epoch: string;
    let read: number;
    {
      using kv = await Deno.openKv(path);
      const log = await ReleaseLog.open(kv);
      epoch = log.epoch;
      log.push([copy("a", 1), copy("a", 2), copy("b", 3)]);
      const got = await log.poll("a", 0, 0);
      assert.deepEqual(got.copies, [copy("a", 1), copy("a", 2)]);
      read = got.seq;
      assert.equal(read, 2);
      // The node handled 1 and 2; 4 arrives while it is away.
      assert.deepEqual((await log.poll("a", read, 0)).copies, []);
      log.push([copy("a", 4)]);
      await log.drain();
      assert.deepEqual(await storedSeqs(kv, "a"), [4]);
    }
    using kv = await Deno.openKv(path);
    const log = await ReleaseLog.open(kv);
    assert.equal(log.epoch, epoch);
    const a = await log.poll("a", read, 0);
    assert.deepEqual(a, { epoch, seq: 4, copies: [kept("a", 4)], gap: false });
    assert.deepEqual((await log.poll("b", 0, 0)).copies, [kept("b", 3)]);
    // The counter goes on from where it was, so `after` keeps its meaning.
    log.push([copy("a", 5)]);
    assert.deepEqual(await log.poll("a", a.seq, 0), {
      epoch,
      seq: 5,
      copies: [copy("a", 5)],
      gap: false,
    });
    await log.drain();
    assert.deepEqual(await storedSeqs(kv, "a"), [5]);
  });
});

Deno.test("ReleaseLog.open() goes on counting after a restart with every notice read", async () => {
  await withKvFile(async (path) => {
    {
      using kv = await Deno.openKv(path);
      const log = await ReleaseLog.open(kv);
      log.push([copy("a", 1), copy("a", 2)]);
      const got = await log.poll("a", 0, 0);
      assert.equal(got.seq, 2);
      await log.poll("a", got.seq, 0);
      await log.drain();
      assert.deepEqual(await storedSeqs(kv, "a"), []);
    }
    using kv = await Deno.openKv(path);
    const log = await ReleaseLog.open(kv);
    log.push([copy("a", 3)]);
    assert.deepEqual(await log.poll("a", 2, 0), {
      epoch: log.epoch,
      seq: 3,
      copies: [copy("a", 3)],
      gap: false,
    });
    await log.drain();
  });
});

Deno.test("ReleaseLog.open() still says gap after a restart when a node fell behind its bound", async () => {
  await withKvFile(async (path) => {
    {
      using kv = await Deno.openKv(path);
      const log = await ReleaseLog.open(kv, { maxPerNode: 2 });
      log.push([copy("a", 1), copy("a", 2), copy("a", 3)]);
      await log.drain();
      assert.deepEqual(await storedSeqs(kv, "a"), [2, 3]);
    }
    {
      using kv = await Deno.openKv(path);
      const log = await ReleaseLog.open(kv, { maxPerNode: 2 });
      const got = await log.poll("a", 0, 0);
      assert.deepEqual(got.copies.map((c) => c.version), [2, 3]);
      assert.equal(got.gap, true);
      assert.equal(got.seq, 3);
    }
    // Reopened with a lower bound, the log drops the oldest notice too; the
    // pack holding it stays for the one after it, the marker says where.
    {
      using kv = await Deno.openKv(path);
      const log = await ReleaseLog.open(kv, { maxPerNode: 1 });
      const got = await log.poll("a", 1, 0);
      assert.deepEqual(got.copies.map((c) => c.version), [3]);
      assert.equal(got.gap, true);
      await log.drain();
      assert.deepEqual(await storedSeqs(kv, "a"), [2, 3]);
      assert.equal((await kv.get(["release_log", "dropped", "a"])).value, 2);
    }
    using kv = await Deno.openKv(path);
    const log = await ReleaseLog.open(kv, { maxPerNode: 1 });
    assert.deepEqual((await log.read("a", 1, 0)).copies.map((c) => c.version), [3]);
  });
});

Deno.test("ReleaseLog.poll() answers a notice only once it is stored", async () => {
  using kv = await Deno.openKv(":memory:");
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  await ReleaseLog.open(kv); // creates the log, so only pushes meet the gate
  const log = await ReleaseLog.open(wrapKv(kv, () => gate));
  log.push([copy("a", 1)]);
  let answered = false;
  const polling = log.poll("a", 0, 0).then((b) => (answered = true, b));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(answered, false);
  open();
  assert.deepEqual((await polling).copies, [copy("a", 1)]);
  assert.deepEqual(await storedSeqs(kv, "a"), [1]);
});

Deno.test("ReleaseLog.push() writes again after a failed write, and answers only then", async () => {
  using kv = await Deno.openKv(":memory:");
  const errors: Error[] = [];
  let fail = true;
  const failing = wrapKv(
    kv,
    () => fail ? Promise.reject(new Error("disk full")) : Promise.resolve(),
  );
  await ReleaseLog.open(kv);
  const log = await ReleaseLog.open(failing, { onError: (e) => errors.push(e) });
  log.push([copy("a", 1)]);
  assert.deepEqual(await log.poll("a", 0, 0), { epoch: log.epoch, seq: 0, copies: [], gap: false });
  assert.deepEqual(errors.map((e) => e.message), ["Cannot store release notices: disk full"]);
  fail = false;
  assert.deepEqual((await log.poll("a", 0, 0)).copies, [copy("a", 1)]);
  assert.deepEqual(await storedSeqs(kv, "a"), [1]);
});

Deno.test("ReleaseLog.push() writes a node's notices as packs, its atomics within 500 mutations", async () => {
  await withKvFile(async (path) => {
    const sizes: number[] = [];
    const many = Array.from({ length: 1200 }, (_, i) => copy("a", i + 1));
    // One notice for each of 1,200 nodes: a pack each.
    const spread = Array.from({ length: 1200 }, (_, i) => copy(`n${i}`, i + 1));
    {
      using kv = await Deno.openKv(path);
      await ReleaseLog.open(kv);
      const log = await ReleaseLog.open(wrapKv(kv, (n) => (sizes.push(n), Promise.resolve())));
      log.push(many);
      await log.drain();
      const packs = await Array.fromAsync(kv.list({ prefix: ["release_log", "pack", "a"] }));
      // Notices of one kind (all but the version alike) share a pack by the tens, each pack
      // small enough to stay in its row's page (about 1 KB).
      assert.ok(packs.length > 1 && packs.length <= 24, `${packs.length} packs`);
      for (const p of packs) assert.ok(JSON.stringify(p.value).length < 1000);
      sizes.length = 0;
      log.push(spread);
      await log.drain();
    }
    assert.deepEqual(sizes, [500, 500, 203]);
    using kv = await Deno.openKv(path);
    const log = await ReleaseLog.open(kv);
    const got = await log.poll("a", 0, 0);
    assert.deepEqual(got.copies, many.map((c) => kept("a", c.version)));
    assert.equal(got.seq, 1200);
    assert.deepEqual((await log.poll("n1199", 0, 0)).copies, [kept("n1199", 1200)]);
  });
});

Deno.test("ReleaseLog.poll() deletes the packs a node read whole, and marks one it read in part", async () => {
  await withKvFile(async (path) => {
    {
      using kv = await Deno.openKv(path);
      const log = await ReleaseLog.open(kv);
      log.push([copy("a", 1), copy("a", 2)]);
      await log.drain();
      log.push([copy("a", 3), copy("a", 4)]);
      await log.drain();
      assert.deepEqual(await storedSeqs(kv, "a"), [1, 2, 3, 4]);
      // The node handled 1 to 3: the first pack goes, the second stays with a marker.
      await log.poll("a", 3, 0);
      await log.drain();
      assert.deepEqual(await storedSeqs(kv, "a"), [3, 4]);
      assert.equal((await kv.get(["release_log", "read", "a"])).value, 3);
    }
    {
      using kv = await Deno.openKv(path);
      const log = await ReleaseLog.open(kv);
      assert.deepEqual((await log.read("a", 0, 0)).copies, [kept("a", 4)]);
      // Read whole, the pack goes with its marker.
      await log.poll("a", 4, 0);
      await log.drain();
      assert.deepEqual(await storedSeqs(kv, "a"), []);
      assert.equal((await kv.get(["release_log", "read", "a"])).value, null);
    }
  });
});

Deno.test("ReleaseLog.open() rewrites notices stored a row each as packs", async () => {
  await withKvFile(async (path) => {
    {
      using kv = await Deno.openKv(path);
      const log = await ReleaseLog.open(kv);
      await log.drain();
      const meta = (await kv.get<{ epoch: string }>(["release_log", "meta"])).value!;
      // The layout before packs: a row per notice.
      await kv.atomic()
        .set(["release_log", "entry", "a", 1], copy("a", 1))
        .set(["release_log", "entry", "a", 2], copy("a", 2))
        .set(["release_log", "entry", "b", 3], copy("b", 3))
        .set(["release_log", "meta"], { epoch: meta.epoch, seq: 3 })
        .commit();
    }
    {
      using kv = await Deno.openKv(path);
      const log = await ReleaseLog.open(kv);
      assert.deepEqual((await log.read("a", 0, 0)).copies, [copy("a", 1), copy("a", 2)]);
      await log.drain();
      assert.deepEqual(
        await Array.fromAsync(kv.list({ prefix: ["release_log", "entry"] })),
        [],
      );
      assert.deepEqual(await storedSeqs(kv, "a"), [1, 2]);
      log.push([copy("a", 4)]);
      assert.deepEqual((await log.poll("a", 2, 0)).copies, [copy("a", 4)]);
      await log.drain();
    }
    using kv = await Deno.openKv(path);
    const log = await ReleaseLog.open(kv);
    // Rewritten as packs, the notices read back hold what a node needs to free a copy.
    assert.deepEqual((await log.read("b", 0, 0)).copies, [kept("b", 3)]);
    assert.deepEqual((await log.read("a", 0, 0)).copies, [kept("a", 4)]);
  });
});

Deno.test("ReleaseLog.open() reads packs of several kinds, and packs of whole records", async () => {
  await withKvFile(async (path) => {
    const mixed = [
      { ...copy("a", 1), dataset: "x", fragment: "rank", bindings: { r: 2 } },
      { ...copy("a", 2), dataset: "y" },
      { ...copy("a", 3), dataset: "x", fragment: "rank", bindings: { r: 2 } },
      { ...copy("a", 4), dataset: "x", fragment: "rank", bindings: { r: 3 } },
    ];
    {
      using kv = await Deno.openKv(path);
      const log = await ReleaseLog.open(kv);
      log.push(mixed);
      await log.drain();
      const packs = await Array.fromAsync(kv.list<{ kinds: unknown[] }>({
        prefix: ["release_log", "pack", "a"],
      }));
      assert.deepEqual(packs.map((p) => p.value.kinds.length), [3]);
      // A pack written before kinds: whole records.
      await kv.set(["release_log", "pack", "b", 5], { seqs: [5], copies: [copy("b", 5)] });
      await kv.set(["release_log", "meta"], { epoch: log.epoch, seq: 5 });
    }
    using kv = await Deno.openKv(path);
    const log = await ReleaseLog.open(kv);
    assert.deepEqual(
      (await log.read("a", 0, 0)).copies,
      mixed.map(({ dataset, version, fragment, bindings, node }) => ({
        dataset,
        version,
        fragment,
        bindings,
        node,
      })),
    );
    assert.deepEqual((await log.read("b", 0, 0)).copies, [copy("b", 5)]);
  });
});

Deno.test("ReleaseLog.push() queues a failed chunk's notices again, the committed ones stay", async () => {
  using kv = await Deno.openKv(":memory:");
  const errors: Error[] = [];
  let commits = 0;
  // The second atomic of the first write fails.
  const failing = wrapKv(
    kv,
    () => ++commits === 2 ? Promise.reject(new Error("disk full")) : Promise.resolve(),
  );
  await ReleaseLog.open(kv);
  const log = await ReleaseLog.open(failing, { onError: (e) => errors.push(e) });
  const spread = Array.from({ length: 600 }, (_, i) => copy(`n${i}`, i + 1));
  log.push(spread);
  await log.drain();
  assert.equal(errors.length, 1);
  // The first atomic's 499 packs are stored, the others not yet.
  assert.deepEqual(await storedSeqs(kv, "n0"), [1]);
  assert.deepEqual(await storedSeqs(kv, "n599"), []);
  // A read writes them again first, then answers them.
  assert.deepEqual((await log.read("n599", 0, 0)).copies, [spread[599]]);
  assert.deepEqual(await storedSeqs(kv, "n599"), [600]);
  assert.deepEqual((await log.read("n0", 0, 0)).copies, [spread[0]]);
  assert.equal(commits, 3);
});

Deno.test("ReleaseLog.open() with a committer writes notices in the committer's next atomic", async () => {
  using kv = await Deno.openKv(":memory:");
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let atomics = 0;
  // The committer's first atomic waits at the gate: it is in flight while the notices come.
  const gc = new GroupCommitter(wrapKv(kv, () => ++atomics === 1 ? gate : Promise.resolve()));
  await ReleaseLog.open(kv);
  const log = await ReleaseLog.open(kv, { committer: gc });
  const first = gc.write([{ type: "set", key: ["registry", 1], value: 1 }]);
  await new Promise((r) => setTimeout(r, 0));
  log.push([copy("a", 1), copy("a", 2)]);
  const second = gc.write([{ type: "set", key: ["registry", 2], value: 2 }]);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(await storedSeqs(kv, "a"), []);
  open();
  await Promise.all([first, second, log.drain()]);
  // The notices rode with the second write: two atomics in all.
  assert.equal(gc.commits, 2);
  assert.equal(atomics, 2);
  assert.deepEqual(await storedSeqs(kv, "a"), [1, 2]);
  assert.deepEqual((await log.poll("a", 0, 0)).copies, [copy("a", 1), copy("a", 2)]);
  await log.drain();
  await gc.close();
});

Deno.test("ReleaseLog.open() deletes a pack whose notices were all read before a restart", async () => {
  await withKvFile(async (path) => {
    {
      using kv = await Deno.openKv(path);
      const log = await ReleaseLog.open(kv);
      log.push([copy("a", 1), copy("a", 2)]);
      await log.drain();
      // As if the process died after the marker of a read and before the pack's delete.
      await kv.set(["release_log", "read", "a"], 2);
    }
    using kv = await Deno.openKv(path);
    const log = await ReleaseLog.open(kv);
    assert.deepEqual((await log.read("a", 0, 0)).copies, []);
    await log.drain();
    assert.deepEqual(await storedSeqs(kv, "a"), []);
    assert.equal((await kv.get(["release_log", "read", "a"])).value, null);
  });
});

Deno.test("ReleaseLog() refuses a bound below one notice", () => {
  assert.throws(() => new ReleaseLog({ maxPerNode: 0 }), {
    name: "RangeError",
    message: "Invalid maxPerNode: expected a positive integer, received 0",
  });
});
