import assert from "node:assert/strict";
import { InvalidRequestError } from "../errors.ts";
import { RawBody } from "./service.ts";

Deno.test("RawBody.read() reads a staged body once, and refuses a file changed since it was staged", async () => {
  await Deno.mkdir("tmp", { recursive: true });
  const path = await Deno.makeTempFile({ dir: "tmp" });
  const staged = (byteLength: number) => ({
    path,
    byteLength,
    tier: "shm",
    remove: () => Promise.resolve(),
  });
  try {
    await Deno.writeFile(path, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const body = new RawBody(new Uint8Array([1, 2, 3, 4]), staged(8));
    assert.equal(body.byteLength, 8);
    assert.deepEqual(await body.read(), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    assert.equal(body.read(), body.read());
    // Cut short after it was taken: its parts would be cut wrong.
    await assert.rejects(new RawBody(new Uint8Array(4), staged(10)).read(), InvalidRequestError);
    await Deno.remove(path);
    // Gone: a bad request, not a server error.
    await assert.rejects(new RawBody(new Uint8Array(4), staged(8)).read(), InvalidRequestError);
  } finally {
    await Deno.remove(path).catch(() => {});
  }
});
