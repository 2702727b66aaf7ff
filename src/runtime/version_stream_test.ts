import assert from "node:assert/strict";
import { LostError } from "../errors.ts";
import { AheadBudget, VersionStream, type VersionStreamOptions } from "./version_stream.ts";

/**
 * A subscription pushing versions 1, 2, ... of `bytes` bytes each, the
 * versions fetched through it, and a stream over it with `options`.
 */
function pushing(bytes: number) {
  let v = 0;
  const fetched: number[] = [];
  const sub = {
    next: () =>
      Promise.resolve({
        version: ++v,
        layout: { byteLength: bytes, slots: [] },
        sources: [],
        dropped: 0,
      }),
    close() {},
  };
  const open = (options: VersionStreamOptions) =>
    new VersionStream(sub, (n) => {
      fetched.push(n.version);
      return Promise.resolve({ finish: (into = new Uint8Array(bytes)) => into, release() {} });
    }, options);
  return { fetched, open };
}

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
  const stream = new VersionStream(sub, async (n) => {
    if (n.version === 2) {
      await new Promise((r) => setTimeout(r, 20));
      throw new LostError("d", 2, "f", "was retired before the stream fetched it");
    }
    return { finish: (into = new Uint8Array(1)) => into.fill(n.version), release() {} };
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

Deno.test("VersionStream assembles a version into the caller's buffer, and releases what it never handed over", async () => {
  let v = 0;
  const sub = {
    next: () =>
      Promise.resolve({
        version: ++v,
        layout: { byteLength: 4, slots: [] },
        sources: [],
        dropped: 0,
      }),
    close() {},
  };
  const released: number[] = [];
  const finished: number[] = [];
  const stream = new VersionStream(sub, (n) =>
    Promise.resolve({
      finish(into = new Uint8Array(4)) {
        finished.push(n.version);
        return into.fill(n.version);
      },
      release: () => released.push(n.version),
    }), { ahead: 2 });
  const into = new Uint8Array(4);
  const got = await stream.next({ into, timeoutMs: 5000 });
  assert.equal(got.bytes, into);
  assert.deepEqual([...into], [1, 1, 1, 1]);
  // A buffer of the wrong size: refused, and the version's parts go back.
  await assert.rejects(stream.next({ into: new Uint8Array(3), timeoutMs: 5000 }), {
    name: "InvalidRequestError",
  });
  assert.deepEqual(released, [2]);
  await new Promise((r) => setTimeout(r, 10));
  stream.close();
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(finished, [1]);
  assert.deepEqual(released.sort(), [2, 3]);
});

Deno.test("VersionStream fetches ahead only as many bytes as aheadBytes allows, and always one version", async () => {
  let s = pushing(100);
  const open = (aheadBytes: number) => s.open({ ahead: 8, aheadBytes });
  const settle = () => new Promise((r) => setTimeout(r, 20));
  // 250 bytes: three versions of 100 (the third one crosses the bound), not eight.
  const stream = open(250);
  try {
    await stream.next({ timeoutMs: 1000 });
    await settle();
    assert.deepEqual(s.fetched, [1, 2, 3, 4]);
    await stream.next({ timeoutMs: 1000 });
    await settle();
    assert.deepEqual(s.fetched, [1, 2, 3, 4, 5]);
  } finally {
    stream.close();
  }
  // A bound below one version still fetches one at a time.
  s = pushing(100);
  const small = open(1);
  try {
    await small.next({ timeoutMs: 1000 });
    await settle();
    assert.deepEqual(s.fetched, [1, 2]);
  } finally {
    small.close();
  }
  assert.throws(() => open(0), /Invalid stream option 'aheadBytes'/);
});

Deno.test("VersionStreams sharing an ahead budget fetch past their version only while it has room, and give it back", async () => {
  const budget = new AheadBudget(250);
  const a = pushing(100);
  const b = pushing(100);
  const first = a.open({ ahead: 8, aheadBudget: budget });
  const second = b.open({ ahead: 8, aheadBudget: budget });
  const settle = () => new Promise((r) => setTimeout(r, 20));
  try {
    await first.next({ timeoutMs: 1000 });
    await settle();
    // The first stream filled the budget (300 of 250 bytes: the last crossed it).
    assert.deepEqual(a.fetched, [1, 2, 3, 4]);
    assert.equal(budget.used, 300);
    // The second still fetches the version its reader is on, no more.
    await second.next({ timeoutMs: 1000 });
    await settle();
    assert.deepEqual(b.fetched, [1, 2]);
    assert.equal(budget.used, 400);
    // Closed, a stream gives its bytes back.
    first.close();
    assert.equal(budget.used, 100);
    await second.next({ timeoutMs: 1000 });
    await settle();
    assert.ok(b.fetched.length > 3, `${b.fetched}`);
  } finally {
    first.close();
    second.close();
  }
  assert.equal(budget.used, 0);
  assert.throws(() => new AheadBudget(0), /Invalid ahead budget/);
});
