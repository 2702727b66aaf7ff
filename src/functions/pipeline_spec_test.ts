import assert from "node:assert/strict";
import { formsCycle, parsePipelineSpec } from "./pipeline_spec.ts";

Deno.test("parsePipelineSpec() fills defaults and keeps what was given", () => {
  assert.deepEqual(parsePipelineSpec("p", { source: "s", function: "f" }), {
    name: "p",
    source: "s",
    function: "f",
    use: "latest",
    placement: "auto",
    retries: 2,
    retryDelayMs: 100,
    queue: 16,
    keep: 32,
  });
  const p = parsePipelineSpec("p", {
    source: "s",
    function: "f",
    use: 3,
    output: "o",
    args: { bins: 8 },
    placement: "in-transit",
    retries: 0,
  });
  assert.deepEqual([p.use, p.output, p.args, p.placement, p.retries], [
    3,
    "o",
    { bins: 8 },
    "in-transit",
    0,
  ]);
});

Deno.test("parsePipelineSpec() names the field that is wrong", () => {
  const bad = (body: unknown, detail: string, name = "p") =>
    assert.throws(() => parsePipelineSpec(name, body), {
      name: "InvalidRequestError",
      message: `Invalid pipeline '${name}': ${detail}`,
    });
  bad([], "expected an object with 'source' and 'function'");
  bad({ function: "f" }, "expected 'source' to be a name");
  bad({ source: "s", function: "f", colour: 1 }, "unknown field 'colour'");
  bad({ source: "s", function: "f", use: 0 }, "expected 'use' to be an alias or a version number");
  bad(
    { source: "s", function: "f", retries: 11 },
    "expected 'retries' to be an integer from 0 to 10, found 11",
  );
  bad({ source: "s", function: "f", output: "s" }, "its output cannot be its own source");
  bad({ source: "s", function: "f" }, "expected a name of letters, digits, '_', '.' or '-'", "9p");
});

Deno.test("formsCycle() finds loops through several pipelines and ignores the one replaced", () => {
  const others = [
    { name: "a", source: "x", output: "y" },
    { name: "b", source: "y", output: "z" },
    { name: "c", source: "z" },
  ];
  assert.equal(formsCycle({ name: "d", source: "z", output: "x" }, others), true);
  assert.equal(formsCycle({ name: "d", source: "z", output: "w" }, others), false);
  // Replacing 'b' so it no longer feeds z breaks the loop.
  assert.equal(
    formsCycle({ name: "b", source: "y", output: "q" }, [...others, {
      name: "d",
      source: "z",
      output: "x",
    }]),
    false,
  );
});
