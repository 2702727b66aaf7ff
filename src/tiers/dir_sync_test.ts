import assert from "node:assert/strict";
import { withDir } from "../../tests/_fixtures.ts";
import { DirectorySync } from "./dir_sync.ts";

Deno.test("DirectorySync.flush() asked during a flush waits for a flush of its own, shared by the callers meanwhile", async () => {
  await withDir(async (dir) => {
    const sync = new DirectorySync(dir);
    const first = sync.flush();
    // Asked before it starts: the same flush.
    assert.equal(sync.flush(), first);
    await Promise.resolve();
    // Asked while it is under way (it may have read the directory already): the next one.
    const second = sync.flush();
    const third = sync.flush();
    assert.notEqual(second, first);
    assert.equal(second, third);
    await first;
    await second;
    assert.equal(sync.flushes, 2);
    await sync.flush();
    assert.equal(sync.flushes, 3);
  });
});

Deno.test("DirectorySync.flush() rejects when the directory cannot be opened, and flushes again later", async () => {
  await withDir(async (dir) => {
    const sync = new DirectorySync(`${dir}/gone`);
    await assert.rejects(sync.flush(), Deno.errors.NotFound);
    await Deno.mkdir(`${dir}/gone`);
    await sync.flush();
    assert.equal(sync.flushes, 1);
  });
});
