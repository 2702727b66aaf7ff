import assert from "node:assert/strict";
import { ValueCache } from "./value_cache.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

Deno.test("ValueCache.write() sets the values that applied and drops the others", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  cache.fill("b", bytes(9), cache.epoch);
  await cache.write(["a", "b"], () => Promise.resolve([bytes(1), undefined]));
  assert.deepEqual(cache.get("a"), bytes(1));
  assert.equal(cache.get("b"), undefined);
});

Deno.test("ValueCache.fill() is refused when a write began, ended or runs since the read", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  const since = cache.epoch;
  let finish!: (v: Uint8Array[]) => void;
  const writing = cache.write(["k"], () => new Promise((r) => finish = r));
  cache.fill("k", bytes(1), cache.epoch); // its write is in flight
  assert.equal(cache.get("k"), undefined);
  cache.fill("other", bytes(1), since); // a write began after the read
  assert.equal(cache.get("other"), undefined);
  finish([bytes(2)]);
  await writing;
  assert.deepEqual(cache.get("k"), bytes(2));
  cache.fill("other", bytes(3), cache.epoch);
  assert.deepEqual(cache.get("other"), bytes(3));
});

Deno.test("ValueCache.write() of a key another write overlaps leaves it out", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  let first!: (v: Uint8Array[]) => void;
  const a = cache.write(["k"], () => new Promise((r) => first = r));
  const b = cache.write(["k"], () => Promise.resolve([bytes(2)]));
  await b;
  first([bytes(1)]);
  await a;
  // Which commit came last is not known here: neither value is kept.
  assert.equal(cache.get("k"), undefined);
  await cache.write(["k"], () => Promise.resolve([bytes(3)]));
  assert.deepEqual(cache.get("k"), bytes(3));
});

Deno.test("ValueCache.forget() during a write keeps the write's value out", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  let finish!: (v: Uint8Array[]) => void;
  const writing = cache.write(["k"], () => new Promise((r) => finish = r));
  cache.forget("k");
  finish([bytes(1)]);
  await writing;
  assert.equal(cache.get("k"), undefined);
});

Deno.test("ValueCache.write() that throws leaves its keys dropped", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  await cache.write(["k"], () => Promise.resolve([bytes(1)]));
  await assert.rejects(cache.write(["k"], () => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(cache.get("k"), undefined);
  assert.equal(cache.bytes, 0);
});

Deno.test("ValueCache keeps at most maxBytes, those used since the last turn kept, no value past maxValueBytes", async () => {
  // Each entry costs its key (1), its value (100) and 64: a generation holds two.
  const cache = new ValueCache({ maxBytes: 4 * 165, maxValueBytes: 100 });
  const one = () => Promise.resolve([new Uint8Array(100)]);
  await cache.write(["a"], one);
  await cache.write(["b"], one);
  await cache.write(["c"], one); // turns: a and b are the old generation
  assert.ok(cache.get("a")); // used: back in the young one
  await cache.write(["d"], one); // turns again: b, unused, goes
  assert.equal(cache.get("b"), undefined);
  assert.ok(cache.get("a") && cache.get("c") && cache.get("d"));
  assert.ok(cache.bytes <= 4 * 165);
  await cache.write(["e"], () => Promise.resolve([new Uint8Array(101)]));
  assert.equal(cache.get("e"), undefined);
  assert.equal(new ValueCache({ maxBytes: 0 }).size, 0);
  // Thousands of writes later the cache still holds at most its bytes.
  for (let i = 0; i < 5000; i++) await cache.write([`k${i}`], one);
  assert.ok(cache.bytes <= 4 * 165 && cache.size <= 4);
});

Deno.test("ValueCache keeps a copy of a view into a larger buffer", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  const body = new Uint8Array(1000).fill(7);
  await cache.write(["k"], () => Promise.resolve([body.subarray(10, 20)]));
  const v = cache.get("k")!;
  assert.equal(v.buffer.byteLength, 10);
  assert.deepEqual(v, new Uint8Array(10).fill(7));
});
