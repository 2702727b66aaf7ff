import assert from "node:assert/strict";
import { DescriptionError } from "../errors.ts";
import { compileDescription } from "./mod.ts";

/** Malformed descriptions and the exact error each must give (position, snippet, caret). */
const CORPUS: readonly { description: string; error: string }[] = [
  {
    description: "dataset { var x flaot64 }",
    error: "1:17: Unknown type 'flaot64'\ndataset { var x flaot64 }\n                ^",
  },
  {
    description: "dataset {\n  var x [4]Point\n}",
    error: "2:12: Unknown type 'Point'\n  var x [4]Point\n           ^",
  },
  {
    description: "dataset { var x float64\n var x int32 }",
    error: "2:6: Duplicate name 'x'\n var x int32 }\n     ^",
  },
  {
    description: "dataset { type P struct { a float64; a int32 } }",
    error:
      "1:38: Duplicate field 'a'\ndataset { type P struct { a float64; a int32 } }\n                                     ^",
  },
  {
    description:
      "dataset { type P struct { a, b float64 }\n var p [4]P }\nfragment f { var q { c } = p }",
    error:
      "3:22: No field 'c' in the elements of 'p': they are struct struct{a float64; b float64}\nfragment f { var q { c } = p }\n                     ^",
  },
  {
    description: "dataset { var t [4, 4]float64 }\nfragment f { var q [i] = t[i] }",
    error:
      "2:28: Index count does not match: 't' has 2 dimension(s), found 1 index(es)\nfragment f { var q [i] = t[i] }\n                           ^",
  },
  {
    description: "dataset { var t [4, 4]float64 }\nfragment f { var q [i, j] = t[i, i] }",
    error:
      "2:31: Index variables do not match: 'i' must appear in exactly one index of 't', found 2\nfragment f { var q [i, j] = t[i, i] }\n                              ^",
  },
  {
    description: "dataset { var n int32\n var t [4][n]float64 }",
    error:
      "2:11: Variable-sized type used as an element type: only the outermost array may be sized by a variable\n var t [4][n]float64 }\n          ^",
  },
  {
    description: "dataset { var n int32\n type V [n]float32\n var t [4]V }",
    error:
      "3:11: Variable-sized type used as an element type: only the outermost array may be sized by a variable\n var t [4]V }\n          ^",
  },
  {
    description: "dataset { var t [4]int64 }\nfragment f { var q int32 = t }",
    error:
      "2:20: Conversion from int64 to int32 loses range\nfragment f { var q int32 = t }\n                   ^",
  },
  {
    description: "dataset { var t [4]float64 }\nfragment f { var q int32 = t }",
    error:
      "2:20: Conversion from float64 to int32 loses range\nfragment f { var q int32 = t }\n                   ^",
  },
  {
    description: "dataset { var t [4]float64 }\nfragment f { var q = nope }",
    error:
      "2:22: Unknown variable 'nope': the dataset has no such variable\nfragment f { var q = nope }\n                     ^",
  },
  {
    description: "dataset { var t [4]float64 }\nfragment f { var q [i] = t[i*k] }",
    error:
      "2:30: Unknown name 'k': expected an index variable, a parameter of 'f' or a constant\nfragment f { var q [i] = t[i*k] }\n                             ^",
  },
  {
    description: "dataset { var t [4]float64 }\nfragment f { var q = t[2:9] }",
    error:
      "2:24: Slice 2:9 is outside index 1 of 't' (extent 4): expected 0 <= start < end <= 4\nfragment f { var q = t[2:9] }\n                       ^",
  },
  {
    description: "dataset { var t [4]float64 ",
    error:
      "1:28: Expected a new line, ';' or '}', found the end\ndataset { var t [4]float64 \n                           ^",
  },
  {
    description: "dataset { var t [0]float64 }",
    error:
      "1:18: Array size must be positive, found 0\ndataset { var t [0]float64 }\n                 ^",
  },
  {
    description: "dataset { type A B\n type B A }",
    error: "1:16: Type 'A' refers to itself\ndataset { type A B\n               ^",
  },
  {
    description: "dataset { const N = M\n const M = N }",
    error: "1:17: Constant 'N' refers to itself\ndataset { const N = M\n                ^",
  },
  {
    description: "dataset { var t [4]float64 }\nfragment f { var q = t }\nfragment f { var r = t }",
    error: "3:10: Duplicate fragment 'f'\nfragment f { var r = t }\n         ^",
  },
  {
    description: 'dataset { var t [4]float64 }\nreplica r "x" { view g }',
    error: "2:9: Unknown view 'g' in replica 'r'\nreplica r \"x\" { view g }\n        ^",
  },
  {
    description: "view f { }",
    error: "1:1: Expected 'dataset', found 'view'\nview f { }\n^",
  },
  {
    description: "dataset { var t [4]float64 } $",
    error:
      "1:30: Unexpected character '$'\ndataset { var t [4]float64 } $\n                             ^",
  },
  {
    description: "dataset { var t [4]float64 }\nfragment f(a, a) { var q = t[a:4] }",
    error:
      "2:10: Duplicate parameter 'a' in fragment 'f'\nfragment f(a, a) { var q = t[a:4] }\n         ^",
  },
  {
    description:
      "dataset { var t [4]struct { a float64 } }\nfragment f { type B { a } Other\n var q = t }",
    error:
      "2:27: Unknown type 'Other'\nfragment f { type B { a } Other\n                          ^",
  },
  {
    description:
      "dataset { type P struct { a float64 }\n type Q struct { b float64 }\n var t [4]P }\nfragment f { type B { b } Q\n var q [] B = t }",
    error:
      "5:11: Type 'B' selects from struct{b float64}, but 't' holds struct{a float64}\n var q [] B = t }\n          ^",
  },
  {
    description: "dataset { var t [4]float64 }\nfragment f { var q { a } = t }",
    error:
      "2:22: No field 'a' in the elements of 't': they are float64 (not a struct)\nfragment f { var q { a } = t }\n                     ^",
  },
  {
    description: "dataset { var t [4]uint32 }\nfragment f { var q float32 = t }",
    error:
      "2:20: Conversion from uint32 to float32 loses range\nfragment f { var q float32 = t }\n                   ^",
  },
  {
    description: "dataset { var t [4]float64 }\nfragment f { var q [i] = t[i*i] }",
    error:
      "2:28: Index variables do not match: 'i' must appear in exactly one index of 't', found 2\nfragment f { var q [i] = t[i*i] }\n                           ^",
  },
  {
    description: "dataset { var t [4]float64 }\nfragment f { var q [i] = t[i/2] }",
    error:
      "2:28: Index of 't' must be start + step * i with a positive step\nfragment f { var q [i] = t[i/2] }\n                           ^",
  },
  {
    description: "dataset { var t [4]string8 }\nfragment f { var q string4 = t }",
    error:
      "2:20: Cannot convert string8 to string4: strings keep their size\nfragment f { var q string4 = t }\n                   ^",
  },
  {
    description: "dataset { var x float64 = 3 }",
    error:
      "1:25: Expected a new line, ';' or '}', found '='\ndataset { var x float64 = 3 }\n                        ^",
  },
  {
    description: "dataset { var 3x float64 }",
    error:
      "1:15: Invalid number: expected an integer, found '3x'\ndataset { var 3x float64 }\n              ^",
  },
  {
    description: "dataset { var x [4.5]float64 }",
    error:
      "1:18: Invalid number: expected an integer, found '4.'\ndataset { var x [4.5]float64 }\n                 ^",
  },
  {
    description: "dataset { var x [010]float64 }",
    error:
      "1:18: Invalid number: expected a decimal integer, found '010'\ndataset { var x [010]float64 }\n                 ^",
  },
  {
    description: "dataset { var x [0x10]float64 }",
    error:
      "1:18: Invalid number: expected an integer, found '0x'\ndataset { var x [0x10]float64 }\n                 ^",
  },
  {
    description: "dataset { var p [2]struct { a int8 } }\nview v { var q { a int16 b } = p }",
    error:
      "2:26: Expected ',', ';', a new line or '}', found 'b'\nview v { var q { a int16 b } = p }\n                         ^",
  },
  {
    description: "dataset { type float32 struct { a int8 } }",
    error:
      "1:16: Cannot redefine built-in type 'float32'\ndataset { type float32 struct { a int8 } }\n               ^",
  },
  {
    description: "dataset { var x [9999999999, 99999999999]float64 }",
    error:
      "1:17: Variable 'x' is too large: its size exceeds 2^53 bytes\ndataset { var x [9999999999, 99999999999]float64 }\n                ^",
  },
  {
    description: "dataset { var x [4][5000]struct { a int8; b int8 } }",
    error:
      "1:17: Element has more than 4096 fields once inner arrays expand\ndataset { var x [4][5000]struct { a int8; b int8 } }\n                ^",
  },
];

for (const { description, error } of CORPUS) {
  const first = error.split("\n")[0];
  Deno.test(`compileDescription() rejects: ${first}`, () => {
    assert.throws(
      () => compileDescription(description),
      (e) => {
        assert.ok(e instanceof DescriptionError, `expected DescriptionError, got ${e}`);
        assert.equal(e.message, error);
        return true;
      },
    );
  });
}
