import assert from "node:assert/strict";
import { InvalidRequestError } from "../errors.ts";
import { batchError, parseBatchOp } from "./batch.ts";

Deno.test("parseBatchOp() checks a publish into a fragment record", () => {
  assert.deepEqual(
    parseBatchOp({
      op: "publish",
      dataset: "g",
      version: 1,
      fragment: "rows",
      bindings: { r0: 0 },
      node: "n1",
      tier: "memory",
      byteLength: 8,
    }),
    {
      op: "publish",
      record: {
        dataset: "g",
        version: 1,
        fragment: "rows",
        bindings: { r0: 0 },
        node: "n1",
        tier: "memory",
        byteLength: 8,
        checksum: 0,
      },
    },
  );
});

Deno.test("parseBatchOp() accepts 'latest' as a lookup's version", () => {
  assert.deepEqual(parseBatchOp({ op: "lookup", dataset: "g", version: "latest", fragment: "f" }), {
    op: "lookup",
    query: { dataset: "g", version: "latest", fragment: "f", bindings: {} },
  });
});

Deno.test("parseBatchOp() throws InvalidRequestError naming the bad field", () => {
  const cases: [unknown, string][] = [
    [null, "Invalid batch operation: expected an object"],
    [
      { op: "drop" },
      "Unknown batch operation 'drop': expected create, publish, commit or lookup",
    ],
    [
      { op: "create", name: "g", description: "dataset { var x int8 }", retention: "2" },
      "Invalid batch operation 'create': expected 'retention' to be a number, found string",
    ],
    [
      { op: "create", name: "g" },
      "Invalid batch operation 'create': expected 'description' to be a string, found undefined",
    ],
    [
      { op: "lookup", dataset: 3, version: 1, fragment: "f" },
      "Invalid batch operation 'lookup': expected 'dataset' to be a string, found number",
    ],
    [
      { op: "lookup", dataset: "g", version: 1, fragment: "f", bindings: { r: "1" } },
      "Invalid batch operation 'lookup': expected binding 'r' to be a number",
    ],
    [
      { op: "lookup", dataset: "g", version: 1, fragment: "f", bindings: [] },
      "Invalid batch operation 'lookup': expected 'bindings' to be an object",
    ],
  ];
  for (const [op, message] of cases) {
    assert.throws(() => parseBatchOp(op), (e) => {
      assert.ok(e instanceof InvalidRequestError);
      assert.equal(e.message, message);
      return true;
    });
  }
});

Deno.test("batchError() reports an error that is not Strata's as internal", () => {
  assert.deepEqual(batchError(new Error("Disk full")), {
    error: { code: "internal", message: "Disk full" },
  });
});
