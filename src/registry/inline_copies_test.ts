import assert from "node:assert/strict";
import { INLINE_MAX_BYTES } from "../name_service/name_service.ts";
import { wholeCopy } from "./_testing.ts";
import { InlineCopies } from "./inline_copies.ts";

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

Deno.test("InlineCopies keeps at most maxBytes and maxCopies, dropping the least recently kept first", () => {
  const cache = new InlineCopies({ maxBytes: 100, maxCopies: 3 });
  for (let v = 1; v <= 3; v++) cache.keep(wholeCopy("d", v, 30), bytes(30, v));
  assert.deepEqual([cache.size, cache.bytes], [3, 90]);
  // A fourth copy of 30 bytes passes both bounds: version 1 goes.
  cache.keep(wholeCopy("d", 4, 30), bytes(30, 4));
  assert.deepEqual([cache.size, cache.bytes], [3, 90]);
  assert.equal(cache.get(wholeCopy("d", 1, 30)), undefined);
  assert.deepEqual(cache.get(wholeCopy("d", 4, 30)), bytes(30, 4));
  // 60 bytes more: versions 2 and 3 go to stay within 100 bytes.
  cache.keep(wholeCopy("d", 5, 60), bytes(60, 5));
  assert.deepEqual([cache.size, cache.bytes], [2, 90]);
  assert.equal(cache.get(wholeCopy("d", 2, 30)), undefined);
  assert.equal(cache.get(wholeCopy("d", 3, 30)), undefined);
  cache.clear();
  assert.deepEqual([cache.size, cache.bytes], [0, 0]);
});

Deno.test("InlineCopies answers only the bytes of the copy asked about: same node, size and checksum", () => {
  const cache = new InlineCopies();
  const record = { ...wholeCopy("d", 1, 4), checksum: 11 };
  cache.keep(record, bytes(4, 1));
  assert.deepEqual(cache.get(record), bytes(4, 1));
  assert.equal(cache.get({ ...record, checksum: 12 }), undefined);
  assert.equal(cache.get({ ...record, node: "b" }), undefined);
  assert.equal(cache.get({ ...record, byteLength: 8 }), undefined);
  // Kept again (an overwrite): the new bytes replace the old, counted once.
  cache.keep({ ...record, checksum: 12 }, bytes(4, 2));
  assert.deepEqual([cache.size, cache.bytes], [1, 4]);
  assert.equal(cache.get(record), undefined);
  assert.deepEqual(cache.get({ ...record, checksum: 12 }), bytes(4, 2));
});

Deno.test("InlineCopies ignores bytes that are not the record's size or past INLINE_MAX_BYTES", () => {
  const cache = new InlineCopies();
  cache.keep(wholeCopy("d", 1, 8), bytes(4, 1));
  const big = INLINE_MAX_BYTES + 8;
  cache.keep(wholeCopy("d", 2, big), bytes(big, 2));
  assert.deepEqual([cache.size, cache.bytes], [0, 0]);
});

Deno.test("InlineCopies.forget() lets a retired copy's bytes go", () => {
  const cache = new InlineCopies();
  cache.keep(wholeCopy("d", 1, 4), bytes(4, 1));
  cache.keep(wholeCopy("d", 2, 4), bytes(4, 2));
  cache.forget(wholeCopy("d", 1, 4));
  assert.deepEqual([cache.size, cache.bytes], [1, 4]);
  assert.equal(cache.get(wholeCopy("d", 1, 4)), undefined);
});

Deno.test("InlineCopies copies a view of a larger buffer, so that it keeps only what it counts", () => {
  const cache = new InlineCopies();
  const body = new Uint8Array(1 << 20).fill(9);
  cache.keep(wholeCopy("d", 1, 4), body.subarray(8, 12));
  const kept = cache.get(wholeCopy("d", 1, 4))!;
  assert.deepEqual(kept, bytes(4, 9));
  assert.equal(kept.buffer.byteLength, 4);
  // A buffer of its own is kept as it is.
  const own = bytes(4, 3);
  cache.keep(wholeCopy("d", 2, 4), own);
  assert.equal(cache.get(wholeCopy("d", 2, 4)), own);
});
