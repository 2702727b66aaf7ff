import assert from "node:assert/strict";
import { BusyError, ConflictError } from "../errors.ts";
import { Commits } from "./_commit.ts";
import { Datasets } from "./_datasets.ts";
import { Publisher } from "./_publish.ts";
import { RegistryState } from "./_state.ts";
import {
  assertRetired,
  cellCopy,
  copiesIn,
  GRID,
  keysIn,
  rejectsWith,
  rows,
  withRegistry,
} from "./_testing.ts";
import { KEYS } from "./keys.ts";
import { openRegistry } from "./registry.ts";

/**
 * A KV store whose next atomic commit, once `failNext` is called, waits
 * until the returned release is called and then fails as a disk would.
 */
function faultyKv(
  kv: Deno.Kv,
): { kv: Deno.Kv; failNext: () => { entered: Promise<void>; release: () => void } } {
  let armed: { entered: PromiseWithResolvers<void>; gate: PromiseWithResolvers<void> } | undefined;
  const wrapped = new Proxy(kv, {
    get(target, key) {
      if (key !== "atomic") {
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return () => {
        const op = target.atomic();
        const fault = armed;
        armed = undefined;
        if (fault === undefined) return op;
        return new Proxy(op, {
          get(o, k) {
            if (k === "commit") {
              return async () => {
                fault.entered.resolve();
                await fault.gate.promise;
                throw new Error("disk failed");
              };
            }
            const value = Reflect.get(o, k, o);
            return typeof value === "function" ? value.bind(o) : value;
          },
        });
      };
    },
  });
  return {
    kv: wrapped,
    failNext: () => {
      const fault = { entered: Promise.withResolvers<void>(), gate: Promise.withResolvers<void>() };
      armed = fault;
      return { entered: fault.entered.promise, release: () => fault.gate.resolve() };
    },
  };
}

/**
 * Runs `fn` with a publisher of a registry whose KV file (under ./tmp,
 * removed afterwards) fails the atomic `failNext` arms; dataset `grid`
 * keeps `retention` versions.
 */
async function withFaultyPublisher(
  retention: number,
  fn: (
    publisher: Publisher,
    kv: Deno.Kv,
    failNext: () => { entered: Promise<void>; release: () => void },
    state: RegistryState,
  ) => Promise<void>,
): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "publish_" });
  const { kv, failNext } = faultyKv(await Deno.openKv(`${dir}/registry.kv`));
  try {
    using state = new RegistryState(kv);
    await new Datasets(state).create({ name: "grid", description: GRID, retention });
    await fn(new Publisher(state, new Commits(state)), kv, failNext, state);
  } finally {
    // The registry's state closed the store.
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("publishFragment() of four rank blocks together registers them and commits the version in one atomic", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 4 });
    const before = reg.stats.commits;
    const results = await Promise.all(
      [0, 2, 4, 6].map((r) => reg.publishFragment(rows(r, r + 2, 1))),
    );
    assert.deepEqual(results.map((r) => r.committed), [false, false, false, true]);
    assert.equal(reg.stats.commits - before, 1);
    reg.close();
    await using again = await openRegistry({ path });
    assert.deepEqual((await again.listVersions("grid")).map((v) => [v.version, v.state]), [
      [1, "committed"],
    ]);
    const found = await again.attachFragments({
      dataset: "grid",
      version: 1,
      fragment: "rows",
      bindings: { r0: 0, r1: 8 },
    });
    assert.deepEqual(found.sources.map((s) => s.bindings.r0).sort(), [0, 2, 4, 6]);
  });
});

Deno.test("publishFragment() commits versions of the blocks an earlier version tiled, and of other blocks, only once covered", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 16 });
    const publish = async (version: number, blocks: readonly [number, number][]) =>
      (await Promise.all(blocks.map(([a, b]) => reg.publishFragment(rows(a, b, version)))))
        .some((r) => r.committed);
    const quarters: [number, number][] = [[0, 2], [2, 4], [4, 6], [6, 8]];
    // The first version's blocks tile the dataset; later ones are counted against them.
    assert.ok(await publish(1, quarters));
    assert.ok(await publish(2, [...quarters].reverse()));
    // Three of the four blocks: open, then the fourth closes it.
    assert.equal(await publish(3, quarters.slice(0, 3)), false);
    assert.equal((await reg.describeDataset("grid")).latest, 2);
    assert.ok(await publish(3, [[6, 8]]));
    // Other blocks than the tiling's: two quarters and a half, then halves overlapping.
    assert.equal(await publish(4, [[0, 2], [2, 4]]), false);
    assert.ok(await publish(4, [[4, 8]]));
    assert.equal(await publish(5, [[0, 5]]), false);
    assert.ok(await publish(5, [[3, 8]]));
    // A block the tiling knows, next to one it does not, leaving a row out.
    assert.equal(await publish(6, [[0, 2], [2, 4], [4, 7]]), false);
    assert.ok(await publish(6, [[6, 8]]));
    assert.deepEqual(
      (await reg.listVersions("grid")).map((v) => [v.version, v.state]),
      [1, 2, 3, 4, 5, 6].map((n) => [n, "committed"]),
    );
    // Quarters again, the tiling now the one version 4 gave: counted no more, still right.
    assert.equal(await publish(7, [[6, 8], [0, 2], [4, 6]]), false);
    assert.ok(await publish(7, [[2, 4]]));
  });
});

Deno.test("publishFragment() of a block that does not close its version answers once its own record is durable", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const before = reg.stats.commits;
    assert.deepEqual(await reg.publishFragment(rows(0, 4, 1)), { committed: false });
    assert.equal(reg.stats.commits - before, 1);
    assert.equal((await copiesIn(path, "grid", 1)).length, 1);
    assert.deepEqual(await reg.publishFragment(rows(4, 8, 1)), { committed: true });
    assert.equal(reg.stats.commits - before, 2);
    assert.equal((await copiesIn(path, "grid", 1)).length, 2);
  });
});

Deno.test("publishFragment() of a block held for the next group is written on its own when the commit that carried it fails", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    // Another process wrote the version's record: the commit's check fails.
    await reg.kv.set(KEYS.version("grid", 1), { version: 1, state: "open" });
    const [held, closing] = await Promise.allSettled([
      reg.publishFragment(rows(0, 4, 1)),
      reg.publishFragment(rows(4, 8, 1)),
    ]);
    assert.deepEqual(held, { status: "fulfilled", value: { committed: false } });
    assert.equal(closing.status, "rejected");
    await rejectsWith(
      Promise.reject((closing as PromiseRejectedResult).reason),
      ConflictError,
      "conflict",
      "Version 1 of 'grid' changed while committing: another process writes this registry's store",
    );
    // The held block is registered; the closing one is not, and the version stays open.
    assert.deepEqual(
      (await copiesIn(path, "grid", 1)).map((k) => k.at(-1)),
      ["r0=0,r1=4"],
    );
    assert.deepEqual((await reg.listVersions("grid")).map((v) => v.state), ["open"]);
    assert.equal((await reg.publishFragment(rows(4, 8, 1))).committed, true);
  });
});

Deno.test("publishFragment() that closes a version whose other block then fails to register answers uncommitted, its own copy registered", async () => {
  await withFaultyPublisher(2, async (publisher, kv, failNext) => {
    // The first block's atomic is in flight (and will fail) when the second block closes the version.
    const fault = failNext();
    const first = publisher.publish(rows(0, 4, 1));
    await fault.entered;
    const closing = publisher.publish(rows(4, 8, 1));
    fault.release();
    await assert.rejects(first, /disk failed/);
    assert.deepEqual(await closing, { committed: false });
    // The version is open with the second block registered; publishing the first again commits it.
    const keys = [];
    for await (const e of kv.list({ prefix: ["fragments", "grid", 1] })) keys.push(e.key.at(-1));
    assert.deepEqual(keys, ["r0=4,r1=8"]);
    assert.deepEqual(await publisher.publish(rows(0, 4, 1)), { committed: true });
  });
});

Deno.test("publishFragment() of versions committed and retired in one atomic leaves no records of their copies", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 2 });
    const retired = new Set<number>();
    const answers = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => Promise.all([0, 4].map((r) => reg.publishFragment(rows(r, r + 4, i + 1)))),
      ),
    );
    for (const blocks of answers) {
      for (const b of blocks) for (const c of b.retired ?? []) retired.add(c.version);
    }
    // Every retired version's copies are handed back to be freed, though never written.
    assert.deepEqual(
      [...retired].sort((a, b) => a - b),
      Array.from({ length: 18 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      (await copiesIn(path, "grid")).map((k) => `${String(k[2])}:${String(k.at(-1))}`),
      ["19:r0=0,r1=4", "19:r0=4,r1=8", "20:r0=0,r1=4", "20:r0=4,r1=8"],
    );
    reg.close();
    await using again = await openRegistry({ path });
    const described = await again.describeDataset("grid");
    assert.equal(described.latest, 20);
    // Retired versions leave no record: the store keeps what the dataset keeps.
    const states = (await again.listVersions("grid")).map((v) => v.state);
    assert.deepEqual(states, ["committed", "committed"]);
    assert.deepEqual((await keysIn(path, ["versions", "grid"])).map((k) => k[2]), [19, 20]);
    await assertRetired(again, 5, 2);
  });
});

Deno.test("publishFragment() of a block whose version a newer commit retired before its own leaves no record of it", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 1 });
    // Version 2 closes before version 1 does: its commit, first in the batch, retires version 1.
    const [held, newer, closing] = await Promise.allSettled([
      reg.publishFragment(rows(0, 4, 1)),
      reg.publishFragment(rows(0, 8, 2)),
      reg.publishFragment(rows(4, 8, 1)),
    ]);
    assert.deepEqual(held, { status: "fulfilled", value: { committed: false } });
    assert.equal(newer.status, "fulfilled");
    assert.deepEqual(
      (newer as PromiseFulfilledResult<{ retired?: { version: number }[] }>).value.retired?.map((
        r,
      ) => r.version),
      [1, 1],
    );
    await rejectsWith(
      Promise.reject((closing as PromiseRejectedResult).reason),
      ConflictError,
      "conflict",
      "Version 1 of 'grid' is already retired",
    );
    assert.deepEqual(await copiesIn(path, "grid", 1), []);
    assert.deepEqual((await reg.listVersions("grid")).map((v) => [v.version, v.state]), [
      [1, "retired"],
      [2, "committed"],
    ]);
  });
});

Deno.test("publishFragment() of a block whose version a newer commit was retiring registers it when that commit fails", async () => {
  await withFaultyPublisher(1, async (publisher, kv, failNext) => {
    // Version 2's commit, which would retire version 1, fails on the disk.
    failNext().release();
    const [held, newer, closing] = await Promise.allSettled([
      publisher.publish(rows(0, 4, 1)),
      publisher.publish(rows(0, 8, 2)),
      publisher.publish(rows(4, 8, 1)),
    ]);
    assert.deepEqual(held, { status: "fulfilled", value: { committed: false } });
    assert.match(String((newer as PromiseRejectedResult).reason), /disk failed/);
    assert.equal(closing.status, "rejected");
    // Version 1 is open again with the held block registered: publishing the other block commits it.
    const keys = [];
    for await (const e of kv.list({ prefix: ["fragments", "grid"] })) keys.push(e.key.slice(2));
    assert.deepEqual(keys, [[1, "rows", "r0=0,r1=4"]]);
    assert.deepEqual(await publisher.publish(rows(4, 8, 1)), { committed: true });
  });
});

Deno.test("publishFragment() of a version of 100 cells together commits it once, every cell registered", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({
      name: "c",
      description: "dataset c { var t [100]int8 }\nfragment cell(r) { var t = t[r:r + 1] }",
    });
    // Past 64 copies, copies are written on their own at once: the commit waits for them.
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, r) => reg.publishFragment(cellCopy("c", r))),
    );
    assert.deepEqual(results.map((r, i) => r.committed ? i : -1).filter((i) => i >= 0), [99]);
    reg.close();
    await using again = await openRegistry({ path });
    assert.equal((await again.describeDataset("c")).latest, 1);
    assert.equal((await copiesIn(path, "c", 1)).length, 100);
  });
});

Deno.test("a dataset's ordered open versions stay those open, through commits, retirements and failed writes", async () => {
  await withFaultyPublisher(2, async (publisher, _kv, failNext, state) => {
    const d = () => state.dataset("grid");
    const opens = () =>
      [...d().versions.values()].filter((v) => v.state === "open").map((v) => v.version).sort((
        a,
        b,
      ) => a - b);
    // Blocks of versions 9, 3, 5, 1 (out of order), then whole versions that close and retire.
    for (const n of [9, 3, 5, 1]) await publisher.publish(rows(0, 4, n));
    assert.deepEqual(d().opens, [1, 3, 5, 9]);
    await publisher.publish(rows(4, 8, 3));
    assert.deepEqual(d().opens, [1, 5, 9]);
    // A whole version 10 fills the window (3, 10): open versions below 3 retire.
    await publisher.publish(rows(0, 8, 10));
    assert.deepEqual(d().opens, opens());
    assert.deepEqual(d().opens, [5, 9]);
    // A write that fails takes its new version back.
    failNext().release();
    await assert.rejects(publisher.publish(rows(0, 4, 11)), /disk failed/);
    assert.equal(d().versions.has(11), false);
    assert.deepEqual(d().opens, opens());
    await Promise.all([publisher.publish(rows(4, 8, 9)), publisher.publish(rows(0, 8, 12))]);
    assert.deepEqual(d().opens, opens());
  });
});

Deno.test("publishFragment() of copies written together in a pack that fails to write takes each of them back", async () => {
  await withFaultyPublisher(2, async (publisher, kv, failNext) => {
    const fault = failNext();
    // Three blocks that do not close version 1, held for the next group: one pack, one atomic.
    const held = [0, 2, 4].map((r) => publisher.publish(rows(r, r + 2, 1)));
    await fault.entered;
    fault.release();
    for (const p of held) await assert.rejects(p, /disk failed/);
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: ["packs"] })), []);
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: ["versions"] })), []);
    // Published again, the four blocks commit the version.
    const again = await Promise.all([0, 2, 4, 6].map((r) => publisher.publish(rows(r, r + 2, 1))));
    assert.deepEqual(again.map((r) => r.committed), [false, false, false, true]);
  });
});

Deno.test("publishFragment() holds the blocks of a version while the dataset's versions close, and its commit carries them in one atomic", async () => {
  // A long hold: only the closing publish, a commit or the close lets the blocks go.
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 4 });
    // A dataset whose versions were never closed by a publish does not hold.
    assert.deepEqual(await reg.publishFragment(rows(0, 4, 1)), { committed: false });
    assert.deepEqual(await reg.publishFragment(rows(4, 8, 1)), { committed: true });
    const before = reg.stats.commits;
    // Blocks of version 2 arrive apart, several group commits apart (the other writes).
    const held = [0, 2, 4].map((r) => reg.publishFragment(rows(r, r + 2, 2)));
    for (let i = 0; i < 3; i++) {
      await reg.createDataset({ name: `other${i}`, description: GRID });
    }
    assert.equal(reg.stats.commits - before, 3);
    assert.equal((await copiesIn(path, "grid", 2)).length, 0);
    const closing = await reg.publishFragment(rows(6, 8, 2));
    assert.equal(closing.committed, true);
    await Promise.all(held);
    // One atomic for the version and its four blocks.
    assert.equal(reg.stats.commits - before, 4);
    reg.close();
    await using again = await openRegistry({ path });
    const found = await again.attachFragments({
      dataset: "grid",
      version: 2,
      fragment: "rows",
      bindings: { r0: 0, r1: 8 },
    });
    assert.deepEqual(found.sources.map((s) => s.bindings.r0).sort(), [0, 2, 4, 6]);
  }, { holdMs: 60_000 });
});

Deno.test("publishFragment() writes a held block on its own at its deadline when its version does not close", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 8, 1));
    const before = reg.stats.commits;
    assert.deepEqual(await reg.publishFragment(rows(0, 4, 2)), { committed: false });
    assert.equal(reg.stats.commits - before, 1);
    assert.equal((await copiesIn(path, "grid", 2)).length, 1);
  }, { holdMs: 1 });
});

Deno.test("commitVersion(), deleteDataset() and close() let held blocks go at once", async () => {
  // Held for a minute unless something lets them go: each of these does.
  const hold = { holdMs: 60_000 };
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 8, 1));
    const held = reg.publishFragment(rows(0, 4, 2));
    assert.equal((await reg.commitVersion("grid", 2)).version, 2);
    assert.deepEqual(await held, { committed: false });
    assert.equal((await copiesIn(path, "grid", 2)).length, 1);
  }, hold);
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 8, 1));
    const held = reg.publishFragment(rows(0, 4, 2)).then(() => "written", (e) => e.name);
    await reg.deleteDataset("grid");
    assert.match(await held, /^(written|NotFoundError)$/);
    assert.deepEqual(await reg.listDatasets(), []);
  }, hold);
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    await reg.publishFragment(rows(0, 8, 1));
    const held = reg.publishFragment(rows(0, 4, 2));
    await new Promise((resolve) => setTimeout(resolve, 0));
    reg.close();
    await assert.rejects(held, (e: Error) => e.name === "ClosedError");
  }, hold);
});

Deno.test("publishFragment() refuses to open a version past maxOpenVersions until one commits", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 8 });
    // Versions 1-3 open: half of each published.
    for (let v = 1; v <= 3; v++) await reg.publishFragment(rows(0, 4, v));
    const refused = await reg.publishFragment(rows(0, 4, 4)).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(refused instanceof BusyError, String(refused));
    assert.match(
      refused.message,
      /3 of its versions are open .* at most 3; complete or commit versions 1 and up/,
    );
    assert.deepEqual(refused.fields, { open: 3, limit: 3, oldest: 1 });
    // An open version still takes copies; completing one makes room.
    assert.deepEqual(await reg.publishFragment(rows(4, 8, 2)), { committed: true });
    assert.equal((await reg.publishFragment(rows(0, 8, 4))).committed, true);
    assert.deepEqual(
      (await reg.listVersions("grid")).map((v) => [v.version, v.state]),
      [[1, "open"], [2, "committed"], [3, "open"], [4, "committed"]],
    );
  }, { maxOpenVersions: 3 });
});
