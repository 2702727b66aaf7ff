import assert from "node:assert/strict";
import { ConflictError, NotFoundError } from "../errors.ts";
import { copiesIn, GRID, rejectsWith, rows, withRegistry } from "./_testing.ts";
import { KEYS } from "./keys.ts";
import { openRegistry } from "./registry.ts";

Deno.test("publishFragment() of whole versions in flight together commits them in call order, sharing atomics", async () => {
  await withRegistry(async (reg, path) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 3 });
    const seen: number[] = [];
    reg.onCommit((_dataset, version) => seen.push(version));
    const before = reg.stats.commits;
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => reg.publishFragment(rows(0, 8, i + 1))),
    );
    assert.ok(results.every((r) => r.committed));
    assert.deepEqual(seen, Array.from({ length: 60 }, (_, i) => i + 1));
    assert.ok(reg.stats.commits - before <= 3, `${reg.stats.commits - before} atomics`);
    const states = (await reg.listVersions("grid")).map((v) => `${v.version}:${v.state}`);
    assert.deepEqual(states.slice(-4), [
      "57:retired",
      "58:committed",
      "59:committed",
      "60:committed",
    ]);
    assert.deepEqual(
      (await copiesIn(path, "grid")).map((k) => k[2]),
      [58, 59, 60],
    );
    // What each publisher was answered is durable: a registry opened on the file agrees.
    reg.close();
    await using again = await openRegistry({ path });
    assert.equal((await again.describeDataset("grid")).latest, 60);
    const found = await again.attachFragments({
      dataset: "grid",
      version: 58,
      fragment: "rows",
      bindings: { r0: 0, r1: 8 },
    });
    assert.equal(found.sources.length, 1);
  });
});

Deno.test("publishFragment() of the blocks of versions in flight together: each version commits once, in order", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 3 });
    const seen: number[] = [];
    reg.onCommit((_dataset, version) => seen.push(version));
    // Four row blocks per version, all in flight at once: their writes land together.
    const answers = await Promise.all(
      Array.from(
        { length: 30 },
        (_, i) => Promise.all([0, 2, 4, 6].map((r) => reg.publishFragment(rows(r, r + 2, i + 1)))),
      ),
    );
    for (const [i, blocks] of answers.entries()) {
      assert.equal(blocks.filter((b) => b.committed).length, 1, `version ${i + 1}`);
    }
    assert.deepEqual(seen, Array.from({ length: 30 }, (_, i) => i + 1));
    // A version completed while an explicit commit of it runs commits once too.
    const last = [0, 2, 4].map((r) => reg.publishFragment(rows(r, r + 2, 31)));
    await Promise.all(last);
    const both = await Promise.allSettled([
      reg.publishFragment(rows(6, 8, 31)),
      reg.commitVersion("grid", 31),
    ]);
    assert.equal(both.filter((r) => r.status === "fulfilled").length >= 1, true);
    assert.equal((await reg.describeDataset("grid")).latest, 31);
    assert.deepEqual(seen.slice(-2), [30, 31]);
  });
});

Deno.test("commitVersion() calls of one batch fail one by one: a bad commit does not fail its neighbours", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 3 });
    await reg.publishFragment(rows(0, 4, 1));
    await reg.publishFragment(rows(0, 4, 2));
    const results = await Promise.allSettled([
      reg.commitVersion("grid", 1),
      reg.commitVersion("grid", 9),
      reg.commitVersion("grid", 1),
      reg.commitVersion("grid", 2),
    ]);
    assert.deepEqual(results.map((r) => r.status), [
      "fulfilled",
      "rejected",
      "rejected",
      "fulfilled",
    ]);
    const [, missing, twice] = results as PromiseRejectedResult[];
    assert.ok(missing!.reason instanceof NotFoundError);
    assert.equal(
      missing!.reason.message,
      "Version 9 of 'grid' does not exist: nothing was published into it",
    );
    assert.ok(twice!.reason instanceof ConflictError);
    assert.equal(twice!.reason.message, "Version 1 of 'grid' is already committed");
    assert.equal((await reg.describeDataset("grid")).latest, 2);
  });
});

Deno.test("commitVersion() calls of one batch all fail when another process wrote one of their versions", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 3 });
    await reg.publishFragment(rows(0, 4, 1));
    await reg.publishFragment(rows(0, 4, 2));
    await reg.kv.set(KEYS.version("grid", 2), { version: 2, state: "open" });
    const message =
      "Versions 1, 2 of 'grid' changed while committing: another process writes this registry's store";
    const one = reg.commitVersion("grid", 1);
    const two = reg.commitVersion("grid", 2);
    await rejectsWith(one, ConflictError, "conflict", message);
    await rejectsWith(two, ConflictError, "conflict", message);
    assert.deepEqual((await reg.listVersions("grid")).map((v) => v.state), ["open", "open"]);
    assert.equal((await reg.commitVersion("grid", 1)).version, 1);
  });
});
