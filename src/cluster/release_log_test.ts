import assert from "node:assert/strict";
import { ReleaseLog } from "./release_log.ts";

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

async function storedSeqs(kv: Deno.Kv, node: string): Promise<number[]> {
  const entries = await Array.fromAsync(kv.list({ prefix: ["release_log", "entry", node] }));
  return entries.map((e) => e.key[3] as number);
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
    assert.deepEqual(a, { epoch, seq: 4, copies: [copy("a", 4)], gap: false });
    assert.deepEqual((await log.poll("b", 0, 0)).copies, [copy("b", 3)]);
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
    // Reopened with a lower bound, the log drops the oldest notice too.
    using kv = await Deno.openKv(path);
    const log = await ReleaseLog.open(kv, { maxPerNode: 1 });
    const got = await log.poll("a", 1, 0);
    assert.deepEqual(got.copies.map((c) => c.version), [3]);
    assert.equal(got.gap, true);
    await log.drain();
    assert.deepEqual(await storedSeqs(kv, "a"), [3]);
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

Deno.test("ReleaseLog.push() writes many notices in atomics of at most 500 mutations", async () => {
  await withKvFile(async (path) => {
    const sizes: number[] = [];
    const copies = Array.from({ length: 1200 }, (_, i) => copy("a", i + 1));
    {
      using kv = await Deno.openKv(path);
      await ReleaseLog.open(kv);
      const log = await ReleaseLog.open(wrapKv(kv, (n) => (sizes.push(n), Promise.resolve())));
      log.push(copies);
      await log.drain();
    }
    assert.deepEqual(sizes, [500, 500, 203]);
    using kv = await Deno.openKv(path);
    const log = await ReleaseLog.open(kv);
    const got = await log.poll("a", 0, 0);
    assert.deepEqual(got.copies, copies);
    assert.equal(got.seq, 1200);
  });
});

Deno.test("ReleaseLog() refuses a bound below one notice", () => {
  assert.throws(() => new ReleaseLog({ maxPerNode: 0 }), {
    name: "RangeError",
    message: "Invalid maxPerNode: expected a positive integer, received 0",
  });
});
