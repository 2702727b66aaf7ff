import assert from "node:assert/strict";
import { decidePlacement, IN_TRANSIT_BYTES } from "./placement.ts";

Deno.test("decidePlacement() honours pins and sends large inputs in transit under auto", () => {
  const nodes = ["a", "b", "c"];
  const at = (requested: "in-situ" | "in-transit" | "auto", inputBytes: number, version = 1) =>
    decidePlacement({ requested, producers: ["a"], nodes, inputBytes, version });
  assert.deepEqual(at("in-situ", 1 << 30), {
    decided: "in-situ",
    node: "a",
    reason: "pinned in situ",
  });
  assert.deepEqual(at("in-transit", 0, 1), {
    decided: "in-transit",
    node: "c",
    reason: "pinned in transit",
  });
  assert.equal(at("in-transit", 0, 2).node, "b");
  assert.deepEqual(at("auto", IN_TRANSIT_BYTES - 1), {
    decided: "in-situ",
    node: "a",
    reason: `input of ${IN_TRANSIT_BYTES - 1} bytes is cheaper to compute where it is`,
  });
  assert.equal(at("auto", IN_TRANSIT_BYTES).decided, "in-transit");
});

Deno.test("decidePlacement() runs on the producer when no other node is live", () => {
  const d = decidePlacement({
    requested: "in-transit",
    producers: ["a"],
    nodes: ["a"],
    inputBytes: 0,
    version: 1,
  });
  assert.deepEqual(d, {
    decided: "in-transit",
    node: "a",
    reason: "pinned in transit; no other node is live, so it runs on the producer's node",
  });
  assert.equal(
    decidePlacement({ requested: "auto", producers: [], nodes: [], inputBytes: 0, version: 1 })
      .node,
    "local",
  );
});
