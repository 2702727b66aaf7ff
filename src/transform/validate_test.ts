import assert from "node:assert/strict";
import { LayoutError } from "../errors.ts";
import type { FragmentLayout, VarSlot } from "./layout.ts";
import { validateLayout } from "./validate.ts";

function layout(slot: Partial<VarSlot>, byteLength = 64): FragmentLayout {
  return {
    byteLength,
    slots: [{
      name: "t",
      variable: "t",
      origin: [0, 0],
      axes: [{ dim: 0, step: 1, count: 2 }, { dim: 1, step: 1, count: 4 }],
      fields: [{ path: "", type: "float64", count: 1, offset: 0, strides: [32, 8] }],
      ...slot,
    }],
  };
}

function message(l: FragmentLayout): string {
  try {
    validateLayout(l, "source 1");
  } catch (e) {
    assert.ok(e instanceof LayoutError);
    return e.message;
  }
  return "";
}

Deno.test("validateLayout() accepts a well-formed layout", () => {
  assert.equal(message(layout({})), "");
});

Deno.test("validateLayout() throws LayoutError when two axes walk one dimension", () => {
  assert.equal(
    message(layout({ axes: [{ dim: 0, step: 1, count: 2 }, { dim: 0, step: 1, count: 4 }] })),
    "Unsupported axes in slot 't' of source 1: two axes walk dimension 0",
  );
});

Deno.test("validateLayout() throws LayoutError when an axis is outside the rank or steps backwards", () => {
  assert.match(
    message(layout({ axes: [{ dim: 2, step: 1, count: 2 }, { dim: 1, step: 1, count: 4 }] })),
    /outside rank 2/,
  );
  assert.match(
    message(layout({ axes: [{ dim: 0, step: 0, count: 2 }, { dim: 1, step: 1, count: 4 }] })),
    /step >= 1/,
  );
});

Deno.test("validateLayout() throws LayoutError when strides are negative or do not match the axes", () => {
  const field = { path: "", type: "float64" as const, count: 1, offset: 56 };
  assert.match(message(layout({ fields: [{ ...field, strides: [-32, -8] }] })), /non-negative/);
  assert.match(
    message(layout({ fields: [{ ...field, strides: [8] }] })),
    /expected 2 strides, found 1/,
  );
});

Deno.test("validateLayout() throws LayoutError naming the end when a field overruns the buffer", () => {
  assert.equal(
    message(layout({}, 60)),
    "Field '' of slot 't' of source 1 lies outside the buffer: it ends at byte 64, the buffer has 60",
  );
});
