import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { SharedReads } from "./shared_reads.ts";

Deno.test("SharedReads shares a read and its checksum with callers that ask meanwhile", async () => {
  const shared = new SharedReads();
  let loads = 0;
  let open!: () => void;
  const gate = new Promise<void>((r) => open = r);
  const load = async () => {
    loads++;
    await gate;
    return new Uint8Array([4, 5, 6]);
  };
  const plain = shared.read("k", load);
  const checked = [shared.checked("k", load), shared.checked("k", load)];
  const other = shared.read("other", load);
  assert.equal(shared.size, 2);
  open();
  const [a, b] = await Promise.all(checked);
  assert.equal(loads, 2, "one load per id");
  assert.equal(await plain, a!.bytes);
  assert.equal(a!.bytes, b!.bytes);
  assert.equal(a!.sum, crc32(new Uint8Array([4, 5, 6])));
  assert.notEqual(await other, a!.bytes);
  assert.equal(shared.size, 0, "settled reads are forgotten");
  await shared.checked("k", load);
  assert.equal(loads, 3, "a later caller reads afresh");
});

Deno.test("SharedReads gives every caller of a failed read its error, then reads afresh", async () => {
  const shared = new SharedReads();
  let loads = 0;
  const failing = async () => {
    loads++;
    await Promise.resolve();
    throw new Error("disk gone");
  };
  const all = [shared.read("k", failing), shared.checked("k", failing)];
  for (const p of all) await assert.rejects(p, /disk gone/);
  assert.equal(loads, 1);
  assert.equal(shared.size, 0);
  assert.equal(await shared.checked("k", () => Promise.resolve(undefined)), undefined);
  assert.equal(shared.size, 0);
});
