import assert from "node:assert/strict";
import { formatPlan } from "./format.ts";
import { compilePlan } from "./plan.ts";
import type { FragmentLayout } from "./layout.ts";

Deno.test("formatPlan() prints one line per op when a plan mixes memcpy, raw and converted copies", () => {
  const slot = (fields: FragmentLayout["slots"][number]["fields"]) => ({
    name: "p",
    variable: "p",
    origin: [0],
    axes: [{ dim: 0, step: 1, count: 10 }],
    fields,
  });
  const source: FragmentLayout = {
    byteLength: 320,
    slots: [slot(["x", "y", "z", "w"].map((path, i) => ({
      path,
      type: "float64" as const,
      count: 1,
      offset: 8 * i,
      strides: [32],
    })))],
  };
  const target: FragmentLayout = {
    byteLength: 200,
    slots: [slot([
      { path: "x", type: "float64", count: 1, offset: 0, strides: [16] },
      { path: "y", type: "float64", count: 1, offset: 8, strides: [16] },
      { path: "w", type: "float32", count: 1, offset: 160, strides: [4] },
    ])],
  };
  assert.equal(
    formatPlan(compilePlan([source], target)),
    [
      "Plan: 1 source (320 bytes) -> target (200 bytes), 2 ops",
      "  #0  src 0 @0 [32, 1] -> dst @0 [16, 1]  x [10, 16]  bytes",
      "  #1  src 0 @24 [32] -> dst @160 [4]  x [10]  float64 -> float32",
    ].join("\n"),
  );
  assert.equal(
    formatPlan(compilePlan([source], source)),
    "Plan: 1 source (320 bytes) -> target (320 bytes), 1 op\n  #0  memcpy src 0 @0 -> dst @0  320 bytes",
  );
});
