import assert from "node:assert/strict";
import { QuietWatch } from "./quiet_watch.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("QuietWatch calls while a wait lasts, again each quiet period, and never once closed", async () => {
  let calls = 0;
  const watch = new QuietWatch(20, () => calls++, 5);
  await sleep(60);
  assert.equal(calls, 0, "no wait under way: nothing");
  watch.waiting();
  await sleep(110);
  assert.ok(calls >= 2, `a long wait is told more than once (${calls})`);
  watch.done();
  const before = calls;
  watch.waiting();
  watch.close();
  await sleep(60);
  assert.equal(calls, before, "closed: nothing more");
});
