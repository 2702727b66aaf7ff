import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { setImmediate } from "node:timers";
import { checksum } from "./checksum.ts";

Deno.test("checksum() equals crc32() of the whole for any size and piece size", async () => {
  const bytes = new Uint8Array(20_000).map((_, i) => (i * 31 + (i >> 7)) & 0xff);
  for (const size of [0, 1, 4095, 4096, 4097, 12_288, 20_000]) {
    const part = bytes.subarray(0, size);
    for (const pieceBytes of [7, 1000, 4096, 1 << 20]) {
      assert.equal(await checksum(part, { pieceBytes }), crc32(part), `${size}/${pieceBytes}`);
    }
  }
});

Deno.test("checksum() answers without yielding for a payload of one piece", async () => {
  const order: string[] = [];
  const ready = new Promise<void>((resolve) =>
    setImmediate(() => resolve(void order.push("ready")))
  );
  await checksum(new Uint8Array(100).fill(9));
  order.push("checksum");
  await ready;
  assert.deepEqual(order, ["checksum", "ready"]);
});

Deno.test("checksum() refuses a piece size that is not a positive integer", async () => {
  await assert.rejects(
    () => checksum(new Uint8Array(4), { pieceBytes: 0 }),
    RangeError,
  );
});
