import assert from "node:assert/strict";
import { decode, encode } from "@msgpack/msgpack";
import { Buffer } from "node:buffer";
import { msgpackBody } from "./msgpack_body.ts";

Deno.test("msgpackBody() gives encode()'s bytes, body after body, whatever their sizes", () => {
  const values: unknown[] = [
    { ok: true },
    { products: Array.from({ length: 128 }, (_, i) => new Uint8Array(10_000).fill(i)) },
    { n: 1 },
    // Past the size an encoder is kept below: the next body starts a new one.
    { big: new Uint8Array(17 << 20).fill(5) },
    { after: [1, 2, 3], id: 2n ** 60n },
    null,
  ];
  const options = { ignoreUndefined: true, useBigInt64: true };
  for (const v of values) {
    const body = msgpackBody(v, options);
    assert.equal(Buffer.compare(body, encode(v, options)), 0);
    assert.equal(body.byteOffset, 0);
    assert.equal(body.buffer.byteLength, body.byteLength, "a buffer of its own");
  }
});

Deno.test("msgpackBody() bodies stay as they were when later bodies are encoded", () => {
  const first = msgpackBody({ bytes: new Uint8Array(4096).fill(1) });
  const copy = first.slice();
  msgpackBody({ bytes: new Uint8Array(4096).fill(2) });
  assert.deepEqual(first, copy);
  assert.deepEqual(decode(first), { bytes: new Uint8Array(4096).fill(1) });
});

Deno.test("msgpackBody() leaves undefined keys out only when asked", () => {
  assert.deepEqual(decode(msgpackBody({ a: 1, b: undefined }, { ignoreUndefined: true })), {
    a: 1,
  });
  assert.deepEqual(decode(msgpackBody({ a: 1, b: undefined })), { a: 1, b: null });
});

Deno.test("msgpackBody() of a value it cannot encode throws, and the next body is right", () => {
  assert.throws(
    () => msgpackBody({ bytes: new Uint8Array(5000), what: Symbol("x") }),
    /Unrecognized object/,
  );
  assert.deepEqual(decode(msgpackBody({ ok: 1 })), { ok: 1 });
});
