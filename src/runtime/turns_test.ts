import assert from "node:assert/strict";
import { Turns } from "./turns.ts";

const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("Turns.take() lets a turn go once every earlier turn of its key has ended", async () => {
  const turns = new Turns();
  const [a, b, c] = [turns.take("d"), turns.take("d"), turns.take("d")];
  const other = turns.take("e");
  const passed: string[] = [];
  for (const [name, t] of [["a", a], ["b", b], ["c", c], ["other", other]] as const) {
    t.ready.then(() => passed.push(name));
  }
  await settled();
  assert.deepEqual(passed, ["a", "other"]);
  // The third waits for the second even when the second ends first.
  b.end();
  await settled();
  assert.deepEqual(passed, ["a", "other"]);
  a.end();
  await settled();
  assert.deepEqual(passed, ["a", "other", "b", "c"]);
});

Deno.test("Turns forgets a key once its turns have ended, and end() twice does nothing", async () => {
  const turns = new Turns();
  const a = turns.take("d");
  a.end();
  a.end();
  await settled();
  assert.equal(turns.size, 0);
  const b = turns.take("d");
  await b.ready;
  b.end();
  await settled();
  assert.equal(turns.size, 0);
});
