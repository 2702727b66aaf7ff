/**
 * docs/api.md's error table lists every code the API answers, with its
 * status, and every code src/errors/ makes is one the API maps.
 */
import assert from "node:assert/strict";
import { STATUS_OF_CODE } from "../src/api/errors.ts";
import { ERROR_CODES } from "../src/errors.ts";

Deno.test("docs/api.md lists every error code with the status the API answers", async () => {
  const doc = await Deno.readTextFile("docs/api.md");
  const rows = [...doc.matchAll(/^\| `([a-z_]+)`\s+\| (\d{3})\s+\|/gm)];
  const documented = Object.fromEntries(rows.map((m) => [m[1]!, Number(m[2])]));
  assert.deepEqual(documented, { ...STATUS_OF_CODE });
});

Deno.test("every code src/errors makes is mapped to a status, but the command line's own", async () => {
  let source = "";
  for await (const entry of Deno.readDir("src/errors")) {
    if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      source += await Deno.readTextFile(`src/errors/${entry.name}`);
    }
  }
  const made = new Set(
    [...source.matchAll(/super\(\s*"([a-z_]+)"/g)].map((m) => m[1]!),
  );
  assert.ok(made.size >= 20, [...made].join(", "));
  for (const code of made) assert.ok((ERROR_CODES as readonly string[]).includes(code), code);
  for (const code of ERROR_CODES) {
    if (code === "invalid_config") continue;
    assert.ok(Object.hasOwn(STATUS_OF_CODE, code), code);
  }
});
