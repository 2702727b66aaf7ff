import assert from "node:assert/strict";
import { BytesMap } from "./bytes_map.ts";

const b = (...x: number[]) => new Uint8Array(x);

Deno.test("BytesMap compares keys by their bytes, whatever buffer holds them", () => {
  const m = new BytesMap<number>();
  const body = b(9, 1, 2, 3, 9);
  m.set(body.subarray(1, 4), 1);
  assert.equal(m.get(b(1, 2, 3)), 1);
  assert.equal(m.has(b(1, 2)), false);
  assert.equal(m.get(b(1, 2, 3, 0)), undefined);
  m.set(b(1, 2, 3), 2); // the same key: replaced, the key held first kept
  assert.equal(m.size, 1);
  assert.equal(m.delete(b(1, 2, 3))?.key.buffer, body.buffer);
  assert.equal(m.delete(b(1, 2, 3)), undefined);
  m.set(b(), 3);
  assert.equal(m.get(new Uint8Array(0)), 3);
  m.clear();
  assert.equal(m.size, 0);
  assert.equal(m.get(b()), undefined);
});

Deno.test("BytesMap keeps keys of one hash apart, removed first, middle or last", () => {
  for (const drop of [0, 1, 2]) {
    const m = new BytesMap<number>(() => 7); // every key collides
    const keys = [b(1), b(2), b(3)];
    keys.forEach((k, i) => m.set(k, i));
    assert.deepEqual(keys.map((k) => m.get(k)), [0, 1, 2]);
    assert.equal(m.delete(keys[drop]!)?.value, drop);
    assert.equal(m.size, 2);
    assert.deepEqual(
      keys.map((k) => m.get(k)),
      [0, 1, 2].map((i) => i === drop ? undefined : i),
    );
    m.set(keys[drop]!, 9);
    assert.equal(m.get(keys[drop]!), 9);
    for (const k of keys) m.delete(k);
    assert.equal(m.size, 0);
    assert.equal(m.has(b(1)), false);
  }
});

Deno.test("BytesMap agrees with a Map over random keys, sets and deletes", () => {
  let seed = 42;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  // A weak hash: many collisions, as well as the default one.
  for (const m of [new BytesMap<number>(), new BytesMap<number>((k) => k.length ? k[0]! & 3 : 0)]) {
    const ref = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const key = Uint8Array.from({ length: Math.floor(rnd() * 4) }, () => Math.floor(rnd() * 4));
      const id = key.join(",");
      if (rnd() < 0.6) {
        m.set(key.slice(), i);
        ref.set(id, i);
      } else {
        assert.equal(m.delete(key)?.value, ref.get(id));
        ref.delete(id);
      }
      assert.equal(m.get(key), ref.get(id));
      assert.equal(m.size, ref.size);
    }
  }
});
