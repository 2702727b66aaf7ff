import assert from "node:assert/strict";
import { DescriptionError } from "../errors.ts";
import {
  compileDescription,
  datasetLayout,
  descriptionFromJson,
  fragmentLayout,
  MAX_NESTING,
  MAX_OPERATORS,
} from "./mod.ts";

/** Asserts that `source` is refused with a DescriptionError at `line:col` whose detail matches. */
function refused(source: string, at: string, detail: RegExp): void {
  assert.throws(
    () => compileDescription(source),
    (e) => {
      assert.ok(e instanceof DescriptionError, `expected DescriptionError, got ${e}`);
      assert.equal(`${e.position.line}:${e.position.col}`, at);
      assert.match(e.detail, detail);
      return true;
    },
  );
}

const N = MAX_NESTING;

Deno.test("compileDescription() refuses 2,000 nested structs at the first level too deep", () => {
  const deep = "struct { a ".repeat(2000) + "int8" + " }".repeat(2000);
  refused(
    `dataset {\nvar x ${deep}\n}`,
    `2:${7 + 11 * N}`,
    /nested too deeply: expected at most 64/,
  );
});

Deno.test("compileDescription() accepts structs nested to the limit", () => {
  const deep = "struct { a ".repeat(N) + "int8" + " }".repeat(N);
  const ds = compileDescription(`dataset { var x ${deep} }`);
  assert.equal(datasetLayout(ds).byteLength, 1);
});

Deno.test("compileDescription() refuses 10,000 parentheses", () => {
  const src = `dataset { const C = ${"(".repeat(10_000)}1${")".repeat(10_000)} }`;
  refused(src, `1:${21 + N}`, /nested too deeply/);
});

Deno.test("compileDescription() refuses 10,000 unary minus signs and 5,000-term sums", () => {
  refused(`dataset { const C = ${"-".repeat(10_000)}1 }`, `1:${21 + MAX_OPERATORS}`, /too long/);
  const sum = Array.from({ length: 5000 }, () => "1").join("+");
  refused(`dataset { const C = ${sum} }`, `1:${21 + 2 * MAX_OPERATORS + 1}`, /too long/);
  const ok = Array.from({ length: MAX_OPERATORS + 1 }, () => "1").join("+");
  assert.equal(compileDescription(`dataset { const C = ${ok} }`).consts.get("C"), 257);
});

Deno.test("compileDescription() refuses nested arrays and selections past the limit", () => {
  refused(`dataset { var x ${"[1]".repeat(5000)}int8 }`, `1:${17 + 3 * N}`, /nested too deeply/);
  const sel = "{ a ".repeat(2000) + "}".repeat(2000);
  refused(
    `dataset { var p [2]int8 }\nfragment f { var q ${sel} = p }`,
    `2:${20 + 4 * N}`,
    /nested/,
  );
});

for (const order of ["forward", "reverse"] as const) {
  Deno.test(`compileDescription() refuses a 5,000-long type chain declared in ${order} order`, () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `type A${i} A${i + 1}`);
    if (order === "reverse") lines.reverse();
    const src = `dataset {\n${lines.join("\n")}\ntype A5000 int8\nvar x A0\n}`;
    assert.throws(() => compileDescription(src), (e) => {
      assert.ok(e instanceof DescriptionError, `expected DescriptionError, got ${e}`);
      assert.match(e.detail, /^Type 'A\d+' is nested too deeply: expected at most 64 levels/);
      return true;
    });
  });

  Deno.test(`compileDescription() refuses a 5,000-long const chain declared in ${order} order`, () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `const C${i} = C${i + 1} + 1`);
    if (order === "reverse") lines.reverse();
    const src = `dataset {\n${lines.join("\n")}\nconst C5000 = 1\n}`;
    assert.throws(() => compileDescription(src), (e) => {
      assert.ok(e instanceof DescriptionError, `expected DescriptionError, got ${e}`);
      assert.match(e.detail, /^Constant 'C\d+' is nested too deeply/);
      return true;
    });
  });
}

Deno.test("compileDescription() accepts type and const chains within the limit", () => {
  const types = Array.from({ length: N - 1 }, (_, i) => `type A${i} A${i + 1}`);
  const consts = Array.from({ length: N - 1 }, (_, i) => `const C${i} = C${i + 1} + 1`);
  const src = `dataset {\n${types.join("\n")}\ntype A${N - 1} int8\n${consts.join("\n")}\nconst C${
    N - 1
  } = 1\nvar x A0\nvar y [C0]int8\n}`;
  const ds = compileDescription(src);
  assert.equal(ds.consts.get("C0"), N);
  assert.equal(datasetLayout(ds).byteLength, 1 + N);
});

Deno.test("compileDescription() refuses types that grow exponentially through named types", () => {
  const types = Array.from({ length: 20 }, (_, i) => `type T${i} struct { a, b T${i + 1} }`);
  const src = `dataset {\n${types.join("\n")}\ntype T20 int8\nvar x T0\n}`;
  assert.throws(() => compileDescription(src), /Type is too large/);
});

Deno.test("compileDescription() lays out 60 nested one-element arrays of structs quickly", () => {
  const src = `dataset { var x [2]${
    "[1]".repeat(60)
  }struct { a, b int8 } }\nfragment f { var y = x }`;
  const started = performance.now();
  const ds = compileDescription(src);
  assert.equal(fragmentLayout(ds, "f").byteLength, 4);
  assert.ok(performance.now() - started < 1000);
});

Deno.test("descriptionFromJson() refuses a 100,000-deep expression with a description error", () => {
  let e: unknown = { kind: "int", value: 1 };
  for (let i = 0; i < 100_000; i++) e = { kind: "neg", operand: e };
  const json = {
    consts: [{ name: "C", value: e }],
    types: [],
    vars: [],
    fragments: [],
    replicas: [],
  };
  assert.throws(() => descriptionFromJson(json), /at most 2000 levels of nesting/);
  let f: unknown = { kind: "int", value: 1 };
  for (let i = 0; i < 500; i++) f = { kind: "neg", operand: f };
  const within = { ...json, consts: [{ name: "C", value: f }] };
  assert.throws(() => descriptionFromJson(within), (err) => {
    assert.ok(err instanceof DescriptionError);
    assert.match(err.detail, /Expression is too long/);
    return true;
  });
});
