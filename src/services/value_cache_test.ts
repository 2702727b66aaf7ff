import assert from "node:assert/strict";
import { ValueCache } from "./value_cache.ts";

const bytes = (...b: number[]) => new Uint8Array(b);
const k = (s: string) => new TextEncoder().encode(s);

Deno.test("ValueCache.write() sets the values that applied and drops the others", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  cache.fill(k("b"), bytes(9), cache.epoch);
  await cache.write([k("a"), k("b")], () => Promise.resolve([bytes(1), undefined]));
  assert.deepEqual(cache.get(k("a")), bytes(1));
  assert.equal(cache.get(k("b")), undefined);
});

Deno.test("ValueCache.fill() is refused when a write began, ended or runs since the read", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  const since = cache.epoch;
  let finish!: (v: Uint8Array[]) => void;
  const writing = cache.write([k("k")], () => new Promise((r) => finish = r));
  cache.fill(k("k"), bytes(1), cache.epoch); // its write is in flight
  assert.equal(cache.get(k("k")), undefined);
  cache.fill(k("other"), bytes(1), since); // a write began after the read
  assert.equal(cache.get(k("other")), undefined);
  finish([bytes(2)]);
  await writing;
  assert.deepEqual(cache.get(k("k")), bytes(2));
  cache.fill(k("other"), bytes(3), cache.epoch);
  assert.deepEqual(cache.get(k("other")), bytes(3));
});

Deno.test("ValueCache.write() of a key another write overlaps leaves it out", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  let first!: (v: Uint8Array[]) => void;
  const a = cache.write([k("k")], () => new Promise((r) => first = r));
  const b = cache.write([k("k")], () => Promise.resolve([bytes(2)]));
  await b;
  first([bytes(1)]);
  await a;
  // Which commit came last is not known here: neither value is kept.
  assert.equal(cache.get(k("k")), undefined);
  await cache.write([k("k")], () => Promise.resolve([bytes(3)]));
  assert.deepEqual(cache.get(k("k")), bytes(3));
});

Deno.test("ValueCache.forget() during a write keeps the write's value out", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  let finish!: (v: Uint8Array[]) => void;
  const writing = cache.write([k("k")], () => new Promise((r) => finish = r));
  cache.forget(k("k"));
  finish([bytes(1)]);
  await writing;
  assert.equal(cache.get(k("k")), undefined);
});

Deno.test("ValueCache.write() that throws leaves its keys dropped", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  await cache.write([k("k")], () => Promise.resolve([bytes(1)]));
  await assert.rejects(cache.write([k("k")], () => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(cache.get(k("k")), undefined);
  assert.equal(cache.bytes, 0);
});

Deno.test("ValueCache keeps at most maxBytes, those used since the last turn kept, no value past maxValueBytes", async () => {
  // Each entry costs its key (1), its value (100) and 64: a generation holds two.
  const cache = new ValueCache({ maxBytes: 4 * 165, maxValueBytes: 100 });
  const one = () => Promise.resolve([new Uint8Array(100)]);
  await cache.write([k("a")], one);
  await cache.write([k("b")], one);
  await cache.write([k("c")], one); // turns: a and b are the old generation
  assert.ok(cache.get(k("a"))); // used: back in the young one
  await cache.write([k("d")], one); // turns again: b, unused, goes
  assert.equal(cache.get(k("b")), undefined);
  assert.ok(cache.get(k("a")) && cache.get(k("c")) && cache.get(k("d")));
  assert.ok(cache.bytes <= 4 * 165);
  await cache.write([k("e")], () => Promise.resolve([new Uint8Array(101)]));
  assert.equal(cache.get(k("e")), undefined);
  assert.equal(new ValueCache({ maxBytes: 0 }).size, 0);
  // Thousands of writes later the cache still holds at most its bytes.
  for (let i = 0; i < 5000; i++) await cache.write([k(`k${i}`)], one);
  assert.ok(cache.bytes <= 4 * 165 && cache.size <= 4);
});

Deno.test("ValueCache keeps a copy of a view into a larger buffer", async () => {
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  const body = new Uint8Array(1000).fill(7);
  await cache.write([k("k")], () => Promise.resolve([body.subarray(10, 20)]));
  const v = cache.get(k("k"))!;
  assert.equal(v.buffer.byteLength, 10);
  assert.deepEqual(v, new Uint8Array(10).fill(7));
});

Deno.test("ValueCache keeps a batch's values as views of the body they fill, counting the body once", async () => {
  const body = new Uint8Array(1000).fill(7);
  const values = Array.from({ length: 9 }, (_, i) => body.subarray(100 + i * 100, 200 + i * 100));
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  const keys = values.map((_, i) => k(`k${i}`));
  await cache.write(keys, () => Promise.resolve(values));
  // Views, no copies: the body itself, counted once whole with each entry's key and slot.
  assert.equal(cache.get(k("k3"))!.buffer, body.buffer);
  assert.equal(cache.bytes, 1000 + keys.length * (2 + 64));
  // Dropping views frees the body's bytes with the last of them.
  await cache.write(keys.slice(0, 8), () => Promise.resolve([]));
  assert.equal(cache.bytes, 1000 + 2 + 64);
  await cache.write([k("k8")], () => Promise.resolve([]));
  assert.equal(cache.bytes, 0);
});

Deno.test("ValueCache copies a value that fills little of its buffer", async () => {
  const body = new Uint8Array(1000).fill(7);
  const cache = new ValueCache({ maxBytes: 1 << 20 });
  await cache.write(
    [k("a"), k("b")],
    () => Promise.resolve([body.subarray(0, 100), body.subarray(100, 300)]),
  );
  const a = cache.get(k("a"))!;
  assert.notEqual(a.buffer, body.buffer);
  assert.deepEqual(a, body.subarray(0, 100));
  body.fill(0); // the request's buffer reused: the cached copies keep their bytes
  assert.deepEqual(cache.get(k("b")), new Uint8Array(200).fill(7));
  assert.equal(cache.bytes, 2 * (1 + 64) + 300);
});

Deno.test("ValueCache bounds the buffers its views keep alive by maxBytes", async () => {
  const cache = new ValueCache({ maxBytes: 40_000 });
  for (let b = 0; b < 50; b++) {
    const body = new Uint8Array(4000);
    const values = Array.from({ length: 4 }, (_, i) => body.subarray(i * 1000, (i + 1) * 1000));
    await cache.write(values.map((_, i) => k(`b${b}-${i}`)), () => Promise.resolve(values));
    assert.ok(cache.bytes <= 40_000, `${cache.bytes} bytes held`);
  }
  // Used since the last turn: kept; a generation holds whole bodies.
  assert.ok(cache.get(k("b49-3")) !== undefined && cache.size <= 40);
  // A buffer past a quarter of the cache is never kept as views: copied.
  const big = new Uint8Array(12_000);
  await cache.write([k("big")], () => Promise.resolve([big.subarray(0, 11_000)]));
  assert.notEqual(cache.get(k("big"))!.buffer, big.buffer);
});

Deno.test("ValueCache.get() with a key in a reused buffer keeps no hold on that buffer", async () => {
  // A generation holds two entries of 100 bytes: "a" is in the old one after "c".
  const cache = new ValueCache({ maxBytes: 4 * 165, maxValueBytes: 100 });
  const one = () => Promise.resolve([new Uint8Array(100).fill(1)]);
  for (const name of ["a", "b", "c"]) await cache.write([k(name)], one);
  const scratch = new Uint8Array(8);
  scratch.set(k("a"));
  // Found in the old generation and moved to the young one, under its own key.
  assert.ok(cache.get(scratch.subarray(0, 1)));
  scratch.fill(0);
  assert.ok(cache.get(k("a")));
  assert.equal(cache.get(new Uint8Array(1)), undefined);
});
