import assert from "node:assert/strict";
import { NamedMap } from "./named_map.ts";

Deno.test("NamedMap pages through its keys in order while keys come and go", () => {
  const m = new NamedMap<number>();
  const names = Array.from({ length: 500 }, (_, i) => `n${(i * 7919) % 500}`);
  for (const n of names) m.set(n, 1);
  const sorted = [...new Set(names)].sort();
  assert.deepEqual(m.sortedKeys(), sorted);
  const seen: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = m.page(after, 64);
    if (page.length === 0) break;
    seen.push(...page);
    after = page.at(-1);
  }
  assert.deepEqual(seen, sorted);
  // A cursor that is no longer a key still pages from where it stood.
  m.delete("n300");
  assert.deepEqual(m.page("n300", 2), ["n301", "n302"]);
  m.set("n3000", 2);
  assert.deepEqual(m.page("n300", 2), ["n3000", "n301"]);
  // Setting a key again keeps the order cached; a value changes in place.
  const before = m.sortedKeys();
  m.set("n1", 5);
  assert.equal(m.sortedKeys(), before);
  assert.equal(m.get("n1"), 5);
  assert.deepEqual(m.page(undefined, 0), []);
  m.clear();
  assert.deepEqual(m.sortedKeys(), []);
});

Deno.test("NamedMap keeps its order through random adds, removes and re-adds between questions", () => {
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const m = new NamedMap<number>();
  const ref = new Set<string>();
  for (let round = 0; round < 200; round++) {
    for (let k = rand(40); k > 0; k--) {
      const key = `k${rand(300)}`;
      if (rand(3) === 0) {
        m.delete(key);
        ref.delete(key);
      } else {
        m.set(key, round);
        ref.add(key);
      }
    }
    if (rand(4) === 0) continue; // changes pile up between questions
    assert.deepEqual(m.sortedKeys(), [...ref].sort());
    assert.equal(m.size, ref.size);
  }
});
