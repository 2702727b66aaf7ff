import assert from "node:assert/strict";
import { LayoutError } from "../errors.ts";
import { checkConversion, isBitCopy } from "./convert.ts";

Deno.test("checkConversion() accepts any number to any number", () => {
  checkConversion("uint64", "bool", "a");
  checkConversion("float64", "int8", "a");
  checkConversion({ kind: "string", size: 6 }, { kind: "string", size: 6 }, "s");
});

Deno.test("checkConversion() throws LayoutError when a string meets a number or another size", () => {
  assert.throws(
    () => checkConversion("int32", { kind: "string", size: 6 }, "p.s"),
    (e: unknown) =>
      e instanceof LayoutError &&
      e.message ===
        "Cannot convert 'p.s' from int32 to string4: strings convert only to strings of the same size",
  );
  assert.throws(
    () => checkConversion({ kind: "string", size: 6 }, { kind: "string", size: 8 }, "p.s"),
    LayoutError,
  );
});

Deno.test("isBitCopy() is true only when every bit pattern is kept", () => {
  assert.ok(isBitCopy("int8", "uint8"));
  assert.ok(isBitCopy("uint64", "int64"));
  assert.ok(isBitCopy({ kind: "string", size: 4 }, { kind: "string", size: 4 }));
  assert.ok(!isBitCopy("uint8", "bool"));
  assert.ok(!isBitCopy("int32", "float32"));
  assert.ok(!isBitCopy("int32", "int64"));
});
