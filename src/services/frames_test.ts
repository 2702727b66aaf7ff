import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { InvalidRequestError } from "../errors.ts";
import { frame, frameLayout, readFrameHead, unframe } from "./frames.ts";
import { joinBytes } from "../http/join_bytes.ts";

/** A file under tmp/ holding `bytes`, removed by the returned function. */
async function fileOf(bytes: Uint8Array): Promise<{ path: string; done: () => Promise<void> }> {
  await Deno.mkdir("tmp", { recursive: true });
  const path = await Deno.makeTempFile({ dir: "tmp" });
  await Deno.writeFile(path, bytes);
  return { path, done: () => Deno.remove(path) };
}

Deno.test("frameLayout() from a staged file's head places every part as unframe() cuts it", async () => {
  const parts = [new Uint8Array(3000).fill(1), null, new Uint8Array(0), new Uint8Array(7).fill(2)];
  const body = joinBytes(frame({ products: ["a", "b", "c", "d"] }, parts));
  const { path, done } = await fileOf(body);
  try {
    const head = await readFrameHead(path, body.byteLength);
    // Only the length and the header are read, not the parts.
    assert.ok(head.byteLength < 100, `${head.byteLength}`);
    const layout = frameLayout(head, body.byteLength);
    const cut = unframe(body);
    assert.deepEqual(layout.header, cut.header);
    assert.deepEqual(
      layout.parts.map((p) => p === null ? null : body.subarray(p.at, p.at + p.size)),
      cut.parts,
    );
  } finally {
    await done();
  }
});

Deno.test("A staged body that is not a frame is refused as a bad request, never read whole", async () => {
  const refused = async (bytes: Uint8Array, message: RegExp) => {
    const { path, done } = await fileOf(bytes);
    try {
      const head = await readFrameHead(path, bytes.byteLength);
      assert.throws(() => frameLayout(head, bytes.byteLength), (e: unknown) => {
        assert.ok(e instanceof InvalidRequestError);
        assert.match(e.message, message);
        return true;
      });
    } finally {
      await done();
    }
  };
  await refused(new Uint8Array([0, 1]), /2 bytes, expected at least 4/);
  // A header length past the file: its 4 bytes are all that is read.
  const long = new Uint8Array(64);
  new DataView(long.buffer).setUint32(0, 0xffff_fff0);
  await refused(long, /header of 4294967280 bytes, only 60 follow/);
  const notMsgpack = new Uint8Array([0, 0, 0, 1, 0xc1, 9, 9]);
  await refused(notMsgpack, /header is not msgpack/);
  const head = encode({ sizes: [5] });
  const short = new Uint8Array(4 + head.byteLength + 2);
  new DataView(short.buffer).setUint32(0, head.byteLength);
  short.set(head, 4);
  await refused(short, /part size 5 at byte \d+ runs past the body's/);
  // A head cut short (a file truncated after it was staged) is refused too.
  const body = joinBytes(frame({ products: [] }, [new Uint8Array(10)]));
  assert.throws(() => frameLayout(body.subarray(0, 6), body.byteLength), InvalidRequestError);
});
