import assert from "node:assert/strict";
import { octetResponse } from "./octets.ts";

/** The chunks a response's body streams, as they come. */
async function chunks(res: Response): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of res.body!) out.push(c);
  return out;
}

Deno.test("octetResponse sends small pieces lying back to back in one buffer as views of it, not copies", async () => {
  const body = new Uint8Array(128 * 10_000 + 64).map((_, i) => i % 251);
  const head = new Uint8Array([1, 2, 3]);
  // 128 values of 10 kB, back to back after a 64-byte header of their own buffer.
  const values = Array.from(
    { length: 128 },
    (_, i) => body.subarray(64 + i * 10_000, 64 + (i + 1) * 10_000),
  );
  const got = await chunks(octetResponse([head, ...values]));
  const sent = got.slice(1);
  assert.ok(sent.every((c) => c.buffer === body.buffer), "views of the values' buffer");
  assert.deepEqual(sent.map((c) => c.byteLength), [1 << 20, 128 * 10_000 - (1 << 20)]);
  const all = new Uint8Array(got.reduce((n, c) => n + c.byteLength, 0));
  got.reduce((at, c) => (all.set(c, at), at + c.byteLength), 0);
  assert.deepEqual(all.subarray(0, 3), head);
  assert.deepEqual(all.subarray(3), body.subarray(64));
});

Deno.test("octetResponse still joins small pieces of different buffers, in order", async () => {
  const a = new Uint8Array(10_000).fill(1);
  const b = new Uint8Array(10_000).fill(2);
  // Back to back in memory would not matter: they are different buffers.
  const got = await chunks(octetResponse([a, b, a.subarray(0, 5)], {}));
  const all = new Uint8Array(got.reduce((n, c) => n + c.byteLength, 0));
  got.reduce((at, c) => (all.set(c, at), at + c.byteLength), 0);
  assert.equal(all.byteLength, 20_005);
  assert.deepEqual([all[0], all[10_000], all[20_004]], [1, 2, 1]);
});

Deno.test("octetResponse keeps views of one buffer that are not back to back apart, and their order", async () => {
  const buf = new Uint8Array(300_000).map((_, i) => i % 249);
  // A gap, then a piece from before the first: never merged across either.
  const pieces = [
    buf.subarray(0, 100_000),
    buf.subarray(100_010, 200_000),
    buf.subarray(50_000, 60_000),
    buf.subarray(60_000, 60_000),
  ];
  const got = await chunks(octetResponse(pieces));
  const all = new Uint8Array(got.reduce((n, c) => n + c.byteLength, 0));
  got.reduce((at, c) => (all.set(c, at), at + c.byteLength), 0);
  const want = new Uint8Array(all.byteLength);
  pieces.reduce((at, p) => (want.set(p, at), at + p.byteLength), 0);
  assert.equal(all.byteLength, 100_000 + 99_990 + 10_000);
  assert.deepEqual(all, want);
});
