import assert from "node:assert/strict";
import { ClosedError, WaitTimeoutError } from "../errors.ts";
import { VersionWaiters } from "./waiters.ts";

async function withWaiters(
  fn: (kv: Deno.Kv, waiters: VersionWaiters, known: Map<string, number>) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  // What the registry "knows" is committed: 0 until it catches up.
  const known = new Map<string, number>();
  const waiters = new VersionWaiters(kv, (d, atLeast) => {
    const v = known.get(d) ?? 0;
    return v >= atLeast ? v : 0;
  });
  try {
    await fn(kv, waiters, known);
  } finally {
    waiters.close();
    kv.close();
  }
}

Deno.test("VersionWaiters.wait() resolves when the watched latest pointer reaches the version", async () => {
  await withWaiters(async (kv, waiters, known) => {
    const a = waiters.wait("grid", 1);
    const b = waiters.wait("grid", 2);
    assert.equal(waiters.size, 2);
    known.set("grid", 1);
    await kv.set(["latest", "grid"], 1);
    assert.equal(await a, 1);
    known.set("grid", 2);
    await kv.set(["latest", "grid"], 2);
    assert.equal(await b, 2);
    assert.equal(waiters.size, 0);
  });
});

Deno.test("VersionWaiters.notify() answers a waiter once the caller has caught up with the commit", async () => {
  await withWaiters(async (kv, waiters, known) => {
    let answer = 0;
    const w = waiters.wait("grid", 1).then((v) => answer = v);
    await kv.set(["latest", "grid"], 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(answer, 0);
    known.set("grid", 1);
    waiters.notify("grid");
    await w;
    assert.equal(answer, 1);
  });
});

Deno.test("VersionWaiters.wait() rejects with WaitTimeoutError when the time runs out", async () => {
  await withWaiters(async (_kv, waiters) => {
    await assert.rejects(waiters.wait("grid", 3, { timeoutMs: 10 }), (e) => {
      assert.ok(e instanceof WaitTimeoutError);
      assert.equal(
        e.message,
        "Timed out after 10 ms waiting for version 3 of 'grid' to be committed",
      );
      return true;
    });
    assert.equal(waiters.size, 0);
  });
});

Deno.test("VersionWaiters.wait() rejects with the abort reason when its signal aborts", async () => {
  await withWaiters(async (_kv, waiters) => {
    const stop = new AbortController();
    const w = waiters.wait("grid", 1, { signal: stop.signal });
    stop.abort(new Error("Stopped"));
    await assert.rejects(w, { message: "Stopped" });
    await assert.rejects(waiters.wait("grid", 1, { signal: stop.signal }), { message: "Stopped" });
    await assert.rejects(waiters.wait("grid", 1, { timeoutMs: -1 }), { code: "invalid_request" });
  });
});

Deno.test("VersionWaiters.close() rejects every waiter with ClosedError", async () => {
  await withWaiters(async (_kv, waiters) => {
    const w = waiters.wait("grid", 1);
    waiters.close();
    await assert.rejects(w, ClosedError);
  });
});
