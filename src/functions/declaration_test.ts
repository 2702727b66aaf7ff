import assert from "node:assert/strict";
import { fragmentLayout } from "../ddl/mod.ts";
import { InvalidFunctionError, LayoutError } from "../errors.ts";
import {
  composeInput,
  type ModuleExports,
  parseDeclaration,
  sampleLayout,
  sampleOutputLayout,
} from "./declaration.ts";

const INPUT =
  "dataset { var n int64; var x [n]float64 }\nfragment part(lo, hi) { var x = x[lo:hi] }";
const base: ModuleExports = {
  input: INPUT,
  output: "value",
  sample: { n: 32, lo: 8, hi: 24 },
  run: "function",
  merge: "undefined",
};

const refused = (e: Partial<ModuleExports>, detail: string | RegExp) =>
  assert.throws(() => parseDeclaration("f", { ...base, ...e }), (err) => {
    assert.ok(err instanceof InvalidFunctionError);
    const prefix = "Cannot deploy function 'f': declaration failed: ";
    assert.ok(err.message.startsWith(prefix), err.message);
    const rest = err.message.slice(prefix.length);
    if (typeof detail === "string") assert.equal(rest, detail);
    else assert.match(rest, detail);
    return true;
  });

Deno.test("parseDeclaration() reads the input fragment, its parameters, the output and the sample", () => {
  const d = parseDeclaration("f", base);
  assert.deepEqual([d.fragment, d.params, d.output, d.merge], ["part", ["lo", "hi"], {
    kind: "value",
  }, false]);
  const layout = sampleLayout(d);
  assert.deepEqual([layout.byteLength, layout.slots[0]!.origin], [16 * 8, [8]]);
  const out = parseDeclaration("f", {
    ...base,
    output: {
      description:
        "dataset { var n int64; var y [n]float32 }\nfragment half(lo, hi) { var y = y[lo/2:hi/2] }",
      fragment: "half",
    },
  });
  assert.deepEqual(out.output, {
    kind: "dataset",
    description:
      "dataset { var n int64; var y [n]float32 }\nfragment half(lo, hi) { var y = y[lo/2:hi/2] }",
    fragment: "half",
    params: ["lo", "hi"],
  });
  assert.equal(sampleOutputLayout(out).byteLength, 8 * 4);
});

Deno.test("parseDeclaration() says what is wrong with each export", () => {
  refused({ run: "undefined" }, "expected an exported function 'run', found undefined");
  refused({ merge: "number" }, "expected 'merge' to be a function when exported, found number");
  refused(
    { input: 3 },
    "expected 'input' to be a description in the data language, found a number",
  );
  refused(
    { input: "dataset { var x [4]float64 }" },
    "expected 'input' to declare exactly one fragment, found 0",
  );
  refused(
    { input: "dataset { var x [4]float6 }\nfragment a { var x = x }" },
    /^'input' does not compile: 1:\d+: Unknown type 'float6'/,
  );
  refused(
    { output: "values" },
    'expected \'output\' to be "value" or { description, fragment? }, found the string "values"',
  );
  refused(
    { output: { description: "dataset { var y [4]float64 }", extra: 1 } },
    "unknown key 'extra' in 'output'",
  );
  refused(
    { output: { description: "dataset { var y [4]float64 }", fragment: "nope" } },
    "'output.fragment' names 'nope', which 'output.description' does not declare",
  );
  refused(
    {
      output: {
        description: "dataset { var y [4]float64 }\nfragment b(r) { var y = y[r:r+1] }",
        fragment: "b",
      },
    },
    "the output fragment's parameters r are not parameters of the input fragment, which binds them",
  );
  refused(
    { sample: { n: 32, lo: 8, hi: 2.5 } },
    "expected 'sample.hi' to be an integer, found a number",
  );
  refused({ sample: [1] }, "expected 'sample' to be an object of integers, found an array");
  refused({ sample: { n: 32, lo: 8, hi: 64 } }, /^Region \[8:64\] of 'x'|outside/);
});

Deno.test("composeInput() lays the function's fragment over the source's variables", () => {
  const d = parseDeclaration("f", base);
  const ds = composeInput(
    "f",
    d,
    "src",
    "dataset src { const N = 100; var x [N]float64; var y int32 }",
  );
  const layout = fragmentLayout(ds, "part", { lo: 10, hi: 20 });
  assert.deepEqual([layout.byteLength, layout.slots[0]!.variable], [80, "x"]);
  assert.throws(() => composeInput("f", d, "src", "dataset src { var y [4]float64 }"), (e) => {
    assert.ok(e instanceof LayoutError);
    assert.equal(
      e.message,
      "Function 'f' cannot read dataset 'src': Unknown variable 'x': the dataset has no such variable",
    );
    return true;
  });
});
