import assert from "node:assert/strict";
import { BusyError, LayoutError } from "../errors.ts";
import { MAX_SUBSCRIPTIONS } from "./_subscribe.ts";
import { crc32 } from "node:zlib";
import { GRID, rows, wholeCopy, withRegistry } from "./_testing.ts";

Deno.test("Registry.subscribe() pushes the versions committed from 'from' on, in order, with their copies", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 8 });
    await reg.publishFragment(rows(0, 8, 1));
    await reg.publishFragment(rows(0, 8, 2));
    const sub = reg.subscribe({
      dataset: "grid",
      fragment: "rows",
      bindings: { r0: 2, r1: 4 },
      from: 2,
    });
    await reg.publishFragment(rows(0, 4, 3));
    await reg.publishFragment(rows(4, 8, 3));
    const two = await sub.next(1000);
    assert.equal(two?.version, 2);
    assert.equal(two?.layout.byteLength, 64);
    const three = await sub.next(1000);
    assert.equal(three?.version, 3);
    assert.deepEqual(three?.sources.map((s) => s.bindings), [{ r0: 0, r1: 4 }]);
    assert.equal(await sub.next(5), undefined);
    sub.close();
  });
});

Deno.test("Registry.subscribe() counts versions retired before the consumer took them as dropped", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID, retention: 2 });
    const sub = reg.subscribe({ dataset: "grid", fragment: "rows", bindings: { r0: 0, r1: 8 } });
    for (let v = 1; v <= 5; v++) await reg.publishFragment(rows(0, 8, v));
    const first = await sub.next(1000);
    assert.deepEqual([first?.version, first?.dropped], [4, 3]);
    assert.deepEqual([(await sub.next(1000))?.version], [5]);
    sub.close();
  });
});

Deno.test("Registry.subscribe() refuses a fragment its dataset does not declare at once, not at a commit", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    assert.throws(
      () => reg.subscribe({ dataset: "grid", fragment: "rowz", bindings: {} }),
      (e) =>
        e instanceof LayoutError &&
        e.message === "Unknown fragment 'rowz': the dataset declares 'rows', 'even', 'low', 'view'",
    );
    // The whole dataset, and a dataset not created yet, are subscribed to.
    reg.subscribe({ dataset: "grid", fragment: "dataset", bindings: {} }).close();
    reg.subscribe({ dataset: "later", fragment: "rowz", bindings: {} }).close();
  });
});

Deno.test("Registry.subscribe() refuses a subscription past MAX_SUBSCRIPTIONS with BusyError until one closes", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({ name: "grid", description: GRID });
    const subs = Array.from(
      { length: MAX_SUBSCRIPTIONS },
      () => reg.subscribe({ dataset: "grid", fragment: "dataset", bindings: {} }),
    );
    assert.throws(
      () => reg.subscribe({ dataset: "grid", fragment: "dataset", bindings: {} }),
      (e) => e instanceof BusyError && e.message.startsWith("Too many subscriptions (4096)"),
    );
    subs[0]!.close();
    subs[0]!.close(); // closing twice frees one place only
    const again = reg.subscribe({ dataset: "grid", fragment: "dataset", bindings: {} });
    assert.throws(
      () => reg.subscribe({ dataset: "grid", fragment: "dataset", bindings: {} }),
      BusyError,
    );
    for (const s of [...subs, again]) s.close();
  });
});

Deno.test("Registry.subscribe() notices carry the bytes a small copy's publish carried, while the dataset has subscribers", async () => {
  await withRegistry(async (reg) => {
    await reg.createDataset({
      name: "s",
      description: "dataset s { var x [4]float64 }",
      retention: 8,
    });
    const bytes = (v: number) => new Uint8Array(32).fill(v);
    const copy = (v: number) => ({ ...wholeCopy("s", v, 32), checksum: crc32(bytes(v)) });
    // No subscriber yet: nothing is kept.
    await reg.publishFragment(copy(1), { inline: bytes(1) });
    const sub = reg.subscribe({ dataset: "s", fragment: "dataset", bindings: {} });
    await reg.publishFragment(copy(2), { inline: bytes(2) });
    await reg.publishFragment(copy(3));
    const notices = [await sub.next(1000), await sub.next(1000), await sub.next(1000)];
    assert.deepEqual(notices.map((n) => n?.version), [1, 2, 3]);
    assert.deepEqual(notices.map((n) => n?.sources[0]?.inline), [undefined, bytes(2), undefined]);
    // Lookups never carry them.
    const found = await reg.attachFragments({
      dataset: "s",
      version: 2,
      fragment: "dataset",
      bindings: {},
    });
    assert.equal(found.sources[0]!.inline, undefined);
    // Versions that retire let their bytes go (retention 8: versions 4 to 11 push out 1 to 3).
    for (let v = 4; v <= 11; v++) await reg.publishFragment(copy(v), { inline: bytes(v) });
    for (let v = 4; v <= 11; v++) assert.equal((await sub.next(1000))?.version, v);
    assert.deepEqual([reg.stats.inlineCopies, reg.stats.inlineBytes], [8, 8 * 32]);
    sub.close();
    // The last subscriber gone, nothing is kept: a new subscription's notice of version 2 has none.
    const again = reg.subscribe({ dataset: "s", fragment: "dataset", bindings: {}, from: 2 });
    assert.equal((await again.next(1000))?.sources[0]?.inline, undefined);
    again.close();
  });
});
