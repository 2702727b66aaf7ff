import { mulberry32 } from "../../tests/_fixtures.ts";
import assert from "node:assert/strict";
import { StrataError } from "../errors.ts";
import {
  compileDescription,
  type Dataset,
  datasetLayout,
  descriptionToJson,
  fragmentLayout,
  MAX_NESTING,
  MAX_OPERATORS,
  printDescription,
} from "./mod.ts";

const SEEDS = [
  `dataset particles {
  const N = 16
  type Point struct { a float64; b, c float32 }
  var data [N]Point
  var temp [4, 8]float64
  var n int32
  var v [n]float32
}
view viz read-only rowmajor {
  type PointB { b } Point
  var b [] { b } = data
  var d [i] = data[i*5]
  var e [i]PointB = data[i*3 + 1]
  var t [i, j] = temp[j, i]
}
fragment block(r0, r1, c0, c1) columnar { var t float32 = temp[r0:r1, c0:c1:2] }
replica r "viz.dat" complete { view viz }
`,
];

const PIECES = [
  "{",
  "}",
  "[",
  "]",
  "(",
  ")",
  ",",
  "=",
  "*",
  ":",
  ";",
  "\n",
  "var",
  "type",
  "struct",
  "view",
  "fragment",
  "replica",
  "const",
  "float64",
  "int8",
  "string4",
  "x",
  "i",
  "0",
  "99999999999999999999",
  "-",
  "/",
  '"',
  "read-only",
  "columnar",
  "/*",
  ".",
  "$",
  "%",
  "readonly",
  "columnmajor",
  "{ a { b } }",
  "(((((",
];

Deno.test("compileDescription() throws only its own errors on mutated input", () => {
  const rand = mulberry32(20261123);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  let accepted = 0;
  for (let n = 0; n < 3000; n++) {
    let s = pick(SEEDS);
    const edits = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < edits; k++) {
      const at = Math.floor(rand() * s.length);
      const len = Math.floor(rand() * 6);
      const r = rand();
      if (r < 0.4) s = s.slice(0, at) + s.slice(at + len);
      else if (r < 0.8) s = s.slice(0, at) + pick(PIECES) + s.slice(at);
      else s = s.slice(0, at) + " " + pick(PIECES) + " " + s.slice(at + len);
    }
    try {
      const ds = compileDescription(s);
      accepted++;
      for (const name of ds.fragments.keys()) {
        try {
          fragmentLayout(ds, name, { r0: 0, r1: 2, c0: 0, c1: 2, n: 3 });
        } catch (e) {
          assert.ok(e instanceof StrataError, `layout of ${JSON.stringify(s)} threw ${e}`);
        }
      }
    } catch (e) {
      assert.ok(e instanceof StrataError, `input ${JSON.stringify(s)} threw ${e}`);
    }
  }
  assert.ok(accepted > 0, "some mutations should still be valid descriptions");
});

/** Generates descriptions from the grammar: mostly valid, some deep, some broken. */
class Generator {
  readonly #rand: () => number;
  constructor(seed: number) {
    this.#rand = mulberry32(seed);
  }

  int(n: number): number {
    return Math.floor(this.#rand() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  chance(p: number): boolean {
    return this.#rand() < p;
  }

  sep(): string {
    return this.pick([", ", "; ", "\n", ",\n"]);
  }

  /** An integer expression; mostly positive (`+ *`), now and then any operator. */
  expr(names: readonly string[], depth: number, any = this.chance(0.1)): string {
    if (depth <= 0 || this.chance(0.4)) {
      return this.chance(0.6) || names.length === 0 ? String(1 + this.int(9)) : this.pick(names);
    }
    const op = this.pick(any ? ["+", "-", "*", "/", "%"] : ["+", "*"]);
    const e = `${this.expr(names, depth - 1, any)} ${op} ${this.expr(names, depth - 1, any)}`;
    return this.chance(0.3) ? `(${e})` : any && this.chance(0.1) ? `-${e}` : e;
  }

  type(types: readonly string[], consts: readonly string[], depth: number): string {
    const r = this.#rand();
    if (depth <= 0 || r < 0.4) {
      return this.pick([...types, "int8", "int32", "float32", "float64", "uint16", "string4"]);
    }
    if (r < 0.7) {
      const fields = Array.from(
        { length: 1 + this.int(3) },
        (_, i) =>
          `f${i}${this.chance(0.3) ? `, g${i}` : ""} ${this.type(types, consts, depth - 1)}`,
      );
      return `struct { ${fields.join("; ")} }`;
    }
    const dims = Array.from({ length: 1 + this.int(2) }, () => this.expr(consts, 2));
    return `[${dims.join(", ")}]${this.type(types, consts, depth - 1)}`;
  }

  select(depth: number): string {
    const n = 1 + this.int(3);
    const parts = Array.from({ length: n }, (_, i) => {
      const name = this.pick(["f0", "f1", "f2", "g0", "g1", `f${i}`]);
      if (depth > 0 && this.chance(0.2)) return `${name} ${this.select(depth - 1)}`;
      return this.chance(0.2) ? `${name} ${this.pick(["float64", "float32", "int64"])}` : name;
    });
    return `{ ${parts.join(this.sep())} }`;
  }

  description(): string {
    const consts = Array.from({ length: this.int(4) }, (_, i) => `K${i}`);
    const types = Array.from({ length: this.int(4) }, (_, i) => `T${i}`);
    const lines = ["dataset {"];
    consts.forEach((c, i) => lines.push(`  const ${c} = ${this.expr(consts.slice(i + 1), 3)}`));
    // Each type refers to later ones only, and now and then to any (itself included).
    types.forEach((t, i) => {
      const known = this.chance(0.05) ? types : types.slice(i + 1);
      lines.push(`  type ${t} ${this.type(known, consts, 3)}`);
    });
    const vars = Array.from({ length: 1 + this.int(4) }, (_, i) => `v${i}`);
    if (this.chance(0.3)) lines.push("  var n int32");
    for (const v of vars) {
      const size = this.chance(0.2) ? "n" : this.expr(consts, 2);
      const dims = this.chance(0.3) ? `[${size}, ${this.expr(consts, 1)}]` : `[${size}]`;
      lines.push(`  var ${v} ${this.chance(0.8) ? dims : ""}${this.type(types, consts, 2)}`);
    }
    lines.push("}");
    const fragments: string[] = [];
    for (let k = 0; k < this.int(4); k++) {
      const name = `fr${k}`;
      fragments.push(name);
      const flags = Array.from(
        { length: this.int(3) },
        () =>
          this.pick([
            "read-only",
            "readonly",
            "rowmajor",
            "rowminor",
            "columnmajor",
            "default",
            "columnar",
          ]),
      );
      const params = this.chance(0.2) ? "(r0, r1)" : "";
      lines.push(`${this.pick(["view", "fragment"])} ${name}${params} ${flags.join(" ")} {`);
      for (let j = 0; j < 1 + this.int(3); j++) {
        const src = this.pick(vars);
        const forms = [
          `var w${j} = ${src}`,
          `var w${j} ${this.select(2)} = ${src}`,
          `var w${j} [i] = ${src}[i*${1 + this.int(4)} + ${this.expr(consts, 1)}]`,
          `var w${j} [i, j] = ${src}[j, i]`,
          `var w${j} [] ${this.select(1)} = ${src}`,
          `var w${j} = ${src}[${params ? "r0:r1" : "0:1"}]`,
          `var w${j} float64 = ${src}`,
        ];
        lines.push(`  ${this.pick(forms)}`);
      }
      lines.push("}");
    }
    if (fragments.length > 0 && this.chance(0.5)) {
      const file = this.chance(0.5) ? ` "r.dat"` : "";
      const complete = this.chance(0.5) ? " complete" : "";
      lines.push(`replica r${file}${complete} { view ${this.pick(fragments)} }`);
    }
    let text = lines.join("\n");
    if (this.chance(0.15)) {
      const at = this.int(text.length);
      text = text.slice(0, at) + this.pick(PIECES) + text.slice(at + this.int(3));
    }
    return text;
  }

  /** Input nested well past `MAX_NESTING`, the shapes that once overflowed the stack. */
  deep(): string {
    const n = MAX_NESTING + this.int(3000);
    switch (this.int(7)) {
      case 0:
        return `dataset { var x ${"struct { a ".repeat(n)}int8${" }".repeat(n)} }`;
      case 1:
        return `dataset { const C = ${"(".repeat(n)}1${")".repeat(n)} }`;
      case 2:
        return `dataset { var x ${"[1]".repeat(n)}int8 }`;
      case 3: {
        const chain = Array.from({ length: n }, (_, i) => `type A${i} A${i + 1}`);
        if (this.chance(0.5)) chain.reverse();
        return `dataset {\n${chain.join("\n")}\ntype A${n} int8\nvar x A0\n}`;
      }
      case 4: {
        const chain = Array.from({ length: n }, (_, i) => `const C${i} = C${i + 1} + 1`);
        if (this.chance(0.5)) chain.reverse();
        return `dataset {\n${chain.join("\n")}\nconst C${n} = 1\n}`;
      }
      case 5:
        return `dataset { var p [2]int8 }\nview v { var q ${"{ a ".repeat(n)}${
          "}".repeat(n)
        } = p }`;
      default:
        return `dataset { const C = ${
          Array.from({ length: n + MAX_OPERATORS }, () => "1").join(this.pick(["+", "-", "*", "%"]))
        } }`;
    }
  }
}

/** Lays out everything a compiled dataset declares; only Strata's own errors may escape. */
function layOut(ds: Dataset, s: string): void {
  const bindings = { r0: 0, r1: 1, n: 3 };
  try {
    datasetLayout(ds, { n: 3 });
  } catch (e) {
    assert.ok(e instanceof StrataError, `dataset layout of ${JSON.stringify(s)} threw ${e}`);
  }
  for (const name of ds.fragments.keys()) {
    try {
      fragmentLayout(ds, name, bindings);
    } catch (e) {
      assert.ok(e instanceof StrataError, `layout of ${JSON.stringify(s)} threw ${e}`);
    }
  }
}

Deno.test("compileDescription() throws only its own errors on 10,000 generated descriptions", () => {
  const gen = new Generator(20260214);
  let accepted = 0;
  let deep = 0;
  for (let n = 0; n < 10_000; n++) {
    const isDeep = n % 50 === 0;
    const s = isDeep ? gen.deep() : gen.description();
    try {
      const ds = compileDescription(s);
      assert.ok(!isDeep, `deep input was accepted: ${s.slice(0, 80)}`);
      accepted++;
      layOut(ds, s);
      const again = compileDescription(printDescription(ds.description));
      assert.deepEqual(descriptionToJson(again.description), descriptionToJson(ds.description));
    } catch (e) {
      assert.ok(e instanceof StrataError, `input ${JSON.stringify(s.slice(0, 2000))} threw ${e}`);
      if (isDeep) deep++;
    }
  }
  assert.equal(deep, 200);
  assert.ok(accepted > 1000, `only ${accepted} of 10,000 generated descriptions were valid`);
});
