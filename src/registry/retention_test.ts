import assert from "node:assert/strict";
import type { VersionState } from "./records.ts";
import { oldestOpenable, planRetention } from "./retention.ts";

const v = (version: number, state: VersionState) => ({ version, state });

Deno.test("planRetention() retires the committed versions past the newest K", () => {
  const versions = [v(1, "committed"), v(2, "committed"), v(3, "committed"), v(4, "open")];
  assert.deepEqual(planRetention(versions, 4, 2), { ok: true, retire: [1, 2] });
  assert.deepEqual(planRetention(versions, 4, 4), { ok: true, retire: [] });
});

Deno.test("planRetention() ignores versions retired already", () => {
  const versions = [v(1, "retired"), v(2, "committed"), v(3, "open")];
  assert.deepEqual(planRetention(versions, 3, 2), { ok: true, retire: [] });
});

Deno.test("planRetention() retires open versions older than the kept ones once the window is full", () => {
  const versions = [v(1, "open"), v(2, "open"), v(3, "committed"), v(5, "open")];
  assert.deepEqual(planRetention(versions, 5, 2), { ok: true, retire: [1, 2] });
  assert.deepEqual(planRetention(versions, 5, 3), { ok: true, retire: [] });
});

Deno.test("planRetention() refuses a version older than every version kept", () => {
  const versions = [v(1, "open"), v(2, "committed"), v(3, "committed")];
  assert.deepEqual(planRetention(versions, 1, 2), { ok: false, kept: [3, 2] });
  assert.deepEqual(planRetention(versions, 1, 3), { ok: true, retire: [] });
});

Deno.test("oldestOpenable() is one past the oldest kept version when the window is full", () => {
  assert.equal(oldestOpenable([1, 2, 3], 2), 3);
  assert.equal(oldestOpenable([1], 2), 0);
  assert.equal(oldestOpenable([], 1), 0);
});
