import assert from "node:assert/strict";
import { ReleaseLog } from "./release_log.ts";

const copy = (node: string, version: number) => ({
  dataset: "d",
  version,
  fragment: "dataset",
  bindings: {},
  node,
  tier: "memory",
  byteLength: 8,
  checksum: 0,
});

Deno.test("ReleaseLog.poll() wakes a waiting node when a notice for it arrives", async () => {
  const log = new ReleaseLog();
  const waiting = log.poll("a", 0, 60_000);
  log.push([copy("b", 1)]);
  log.push([copy("a", 2)]);
  const got = await waiting;
  assert.deepEqual(got.copies, [copy("a", 2)]);
  assert.equal(got.gap, false);
});

Deno.test("ReleaseLog.poll() says gap when a node fell behind its bound", async () => {
  const log = new ReleaseLog({ maxPerNode: 2 });
  log.push([copy("a", 1), copy("a", 2), copy("a", 3)]);
  const got = await log.poll("a", 0, 0);
  assert.deepEqual(got.copies.map((c) => c.version), [2, 3]);
  assert.equal(got.gap, true);
  const next = await log.poll("a", got.seq, 0);
  assert.deepEqual(next, { epoch: log.epoch, seq: got.seq, copies: [], gap: false });
});

Deno.test("ReleaseLog.poll() returns at once when its signal aborts", async () => {
  const log = new ReleaseLog();
  const ac = new AbortController();
  const waiting = log.poll("a", 0, 60_000, ac.signal);
  ac.abort();
  assert.deepEqual((await waiting).copies, []);
});

Deno.test("ReleaseLog.push() tells every node holding a copy, replicas included, except the one skipped", async () => {
  const log = new ReleaseLog();
  const replicated = {
    ...copy("a", 1),
    replicas: [{ node: "b", tier: "file" }, { node: "c", tier: "memory" }],
  };
  log.push([replicated], "c");
  assert.deepEqual((await log.poll("a", 0, 0)).copies, [replicated]);
  assert.deepEqual((await log.poll("b", 0, 0)).copies, [replicated]);
  assert.deepEqual((await log.poll("c", 0, 0)).copies, []);
});
