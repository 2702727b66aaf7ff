import assert from "node:assert/strict";
import { SizeMismatchError, UnavailableError } from "../errors.ts";
import { within } from "../http/_testing.ts";
import { readSteps } from "./steps.ts";

/** One step frame: its JSON header, then `bytes`. */
function frame(header: unknown, bytes = new Uint8Array()): Uint8Array<ArrayBuffer> {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.byteLength + bytes.byteLength);
  new DataView(out.buffer).setUint32(0, json.byteLength);
  out.set(json, 4);
  out.set(bytes, 4 + json.byteLength);
  return out;
}

Deno.test("readSteps() refuses a step whose bytes are not its layout's size", async () => {
  const layout = { byteLength: 4, slots: [] };
  const body = new Blob([
    frame({ version: 1, dropped: 0, layout, bytes: 4 }, new Uint8Array([1, 2, 3, 4])),
    frame({ version: 2, dropped: 0, layout, bytes: 3 }, new Uint8Array([5, 6, 7])),
  ]).stream();
  const got: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const step of readSteps(body)) got.push(step.version);
    })(),
    (e) =>
      e instanceof SizeMismatchError &&
      e.message === "The step stream sent version 2 as 3 bytes: its layout holds 4",
  );
  assert.deepEqual(got, [1]);
});

Deno.test("readSteps() skips heartbeats, and fails a stream that goes silent, not even a heartbeat", async () => {
  const layout = { byteLength: 1, slots: [] };
  let cancelled = false;
  // A step and a heartbeat, then nothing: the runtime stopped without closing its connection.
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(frame({ heartbeat: true }));
      c.enqueue(frame({ version: 1, dropped: 0, layout, bytes: 1 }, new Uint8Array([9])));
      c.enqueue(frame({ heartbeat: true }));
    },
    cancel() {
      cancelled = true;
    },
  });
  const versions: number[] = [];
  await within(
    assert.rejects(
      (async () => {
        for await (
          const step of readSteps(body, { silenceMs: 100, peer: "Runtime http://127.0.0.1:1" })
        ) versions.push(step.version);
      })(),
      (e: unknown) => {
        assert.ok(e instanceof UnavailableError);
        assert.match(
          e.message,
          /Runtime http:\/\/127\.0\.0\.1:1 sent nothing on the step stream for 100 ms/,
        );
        return true;
      },
    ),
    10_000,
  );
  assert.deepEqual(versions, [1]);
  assert.ok(cancelled, "the silent stream was not cancelled");
});
