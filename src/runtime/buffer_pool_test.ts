import assert from "node:assert/strict";
import { BufferPool } from "./buffer_pool.ts";

Deno.test("BufferPool.take() reuses a buffer given back, of the same size only", () => {
  const pool = new BufferPool({ maxBytes: 1 << 20 });
  const a = pool.take(1024);
  a.fill(7);
  pool.give(a);
  assert.equal(pool.idleBytes, 1024);
  assert.notEqual(pool.take(2048), a);
  const again = pool.take(1024);
  assert.equal(again, a);
  assert.equal(again.byteLength, 1024);
  assert.equal(pool.idleBytes, 0);
});

Deno.test("BufferPool.take() never hands out a buffer that is out", () => {
  const pool = new BufferPool({ maxBytes: 1 << 20 });
  const a = pool.take(64);
  const b = pool.take(64);
  assert.notEqual(a.buffer, b.buffer);
  pool.give(a);
  const c = pool.take(64);
  const d = pool.take(64);
  assert.equal(c, a);
  assert.notEqual(d, a);
  assert.notEqual(d, b);
  assert.notEqual(d.buffer, b.buffer);
  a.fill(1);
  assert.deepEqual([...b.subarray(0, 4)], [0, 0, 0, 0]);
  assert.equal(pool.outstanding, 3);
});

Deno.test("BufferPool.give() refuses a buffer given back twice or never taken", () => {
  const pool = new BufferPool();
  const a = pool.take(16);
  pool.give(a);
  assert.throws(() => pool.give(a), TypeError);
  assert.throws(() => pool.give(new Uint8Array(16)), TypeError);
  // Still idle once: two takes get two different buffers.
  assert.notEqual(pool.take(16), pool.take(16));
});

Deno.test("BufferPool keeps at most maxBytes of idle buffers, dropping the oldest", () => {
  const pool = new BufferPool({ maxBytes: 3000 });
  const a = pool.take(1000);
  const b = pool.take(1000);
  const c = pool.take(2000);
  pool.give(a);
  pool.give(b);
  pool.give(c); // 4000 > 3000: a goes
  assert.equal(pool.idleBytes, 3000);
  assert.equal(pool.take(1000), b);
  assert.notEqual(pool.take(1000), a);
  assert.equal(pool.take(2000), c);
});

Deno.test("BufferPool does not keep a buffer larger than maxBytes", () => {
  const pool = new BufferPool({ maxBytes: 100 });
  const big = pool.take(200);
  pool.give(big);
  assert.equal(pool.idleBytes, 0);
  assert.notEqual(pool.take(200), big);
  assert.throws(() => new BufferPool({ maxBytes: -1 }), RangeError);
});

Deno.test("BufferPool lets buffers idle past idleMs go, and keeps those still in use", async () => {
  const pool = new BufferPool({ maxBytes: 1 << 20, idleMs: 30 });
  const a = pool.take(1024);
  const b = pool.take(2048);
  pool.give(a);
  assert.equal(pool.idleBytes, 1024);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(pool.idleBytes, 0);
  assert.notEqual(pool.take(1024), a); // gone: a fresh buffer
  pool.give(b);
  assert.equal(pool.take(2048), b); // taken again in time: the same one
  pool.give(b);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(pool.idleBytes, 0);
  assert.throws(() => new BufferPool({ idleMs: 0 }), RangeError);
});
