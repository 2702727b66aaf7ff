import assert from "node:assert/strict";
import { KEYS, regionText } from "./keys.ts";

Deno.test("KEYS builds one key per record, under its prefix", () => {
  assert.deepEqual(KEYS.dataset("p"), ["datasets", "p"]);
  assert.deepEqual(KEYS.version("p", 3), ["versions", "p", 3]);
  assert.deepEqual(KEYS.latest("p"), ["latest", "p"]);
  assert.deepEqual(KEYS.fragment("p", 3, "rows", "r0=0,r1=2"), [
    "fragments",
    "p",
    3,
    "rows",
    "r0=0,r1=2",
  ]);
  assert.deepEqual(KEYS.node("n1"), ["nodes", "n1"]);
  const v = KEYS.version("p", 3);
  assert.deepEqual(v.slice(0, 2), KEYS.versions("p"));
  assert.deepEqual(KEYS.fragment("p", 3, "f", "").slice(0, 3), KEYS.fragments("p", 3));
});

Deno.test("regionText() names a region the same whatever the order of its bindings", () => {
  assert.equal(regionText({ r1: 2, r0: 0 }), regionText({ r0: 0, r1: 2 }));
  assert.equal(regionText({ r1: 2, r0: 0 }), "r0=0,r1=2");
});
