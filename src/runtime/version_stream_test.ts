import assert from "node:assert/strict";
import { LostError } from "../errors.ts";
import { VersionStream } from "./version_stream.ts";

Deno.test("VersionStream hands versions over in order when one is lost while later ones are fetched", async () => {
  let v = 0;
  const sub = {
    next: () =>
      Promise.resolve({
        version: ++v,
        layout: { byteLength: 1, slots: [] },
        sources: [],
        dropped: 0,
      }),
    close() {},
  };
  // Version 2 is gone by the time it is fetched, and fails after version 3
  // was already fetched: version 3 must still come after version 1, with
  // version 2 counted as dropped, and version 4 after it.
  const stream = new VersionStream(sub, async (n, into) => {
    if (n.version === 2) {
      await new Promise((r) => setTimeout(r, 20));
      throw new LostError("d", 2, "f", "was retired before the stream fetched it");
    }
    into[0] = n.version;
    return into;
  }, { ahead: 3 });
  try {
    const seen: [number, number, number][] = [];
    for (let i = 0; i < 3; i++) {
      const got = await stream.next({ timeoutMs: 5000 });
      seen.push([got.version, got.bytes[0]!, got.dropped]);
    }
    assert.deepEqual(seen, [[1, 1, 0], [3, 3, 1], [4, 4, 0]]);
  } finally {
    stream.close();
  }
});
