import assert from "node:assert/strict";
import { InvalidFunctionError } from "../errors.ts";
import { checkSource, digestOf, MAX_SOURCE_BYTES, runnableSource } from "./source.ts";

const refused = (source: string, detail: string) =>
  assert.throws(() => checkSource("f", source), (e) => {
    assert.ok(e instanceof InvalidFunctionError);
    assert.equal(e.message, `Cannot deploy function 'f': declaration failed: ${detail}`);
    return true;
  });

Deno.test("checkSource() refuses every import but types from strata/function", () => {
  checkSource("f", 'import type { Inputs } from "strata/function";\nexport function run() {}');
  checkSource("f", "import { type Inputs } from 'strata/function';\nexport function run() {}");
  refused(
    'import pad from "npm:left-pad";',
    "it imports 'npm:left-pad' at line 1: functions import nothing but types from 'strata/function'",
  );
  refused(
    '\n\nexport * from "./other.ts";',
    "it imports './other.ts' at line 3: functions import nothing but types from 'strata/function'",
  );
  refused(
    'import "jsr:@std/fs";',
    "it imports 'jsr:@std/fs' at line 1: functions import nothing but types from 'strata/function'",
  );
  refused(
    "export async function run() {\n  return await import ( 'node:fs' );\n}",
    "it imports a module dynamically at line 2: functions import nothing at run time",
  );
});

Deno.test("checkSource() refuses empty and oversized sources", () => {
  refused("  \n", "the source is empty");
  refused(
    "//" + "x".repeat(MAX_SOURCE_BYTES),
    `the source takes ${MAX_SOURCE_BYTES + 2} bytes, over the limit of ${MAX_SOURCE_BYTES}`,
  );
});

Deno.test("runnableSource() points only type imports of strata/function at an empty module", () => {
  const src = `import type { A } from "strata/function";
import { type B } from 'strata/function';
const s = "strata/function";`;
  assert.equal(
    runnableSource(src),
    `import type { A } from "data:application/javascript,export{}";
import { type B } from 'data:application/javascript,export{}';
const s = "strata/function";`,
  );
});

Deno.test("digestOf() is the SHA-256 of the UTF-8 bytes", async () => {
  assert.equal(
    await digestOf("abc"),
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.notEqual(await digestOf("é"), await digestOf("e"));
});
