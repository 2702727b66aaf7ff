/**
 * docs/api.md's error table lists every code the API answers, with its
 * status, and every code src/errors.ts makes is one the API maps.
 */
import assert from "node:assert/strict";
import { STATUS_OF_CODE } from "../src/api/errors.ts";

Deno.test("docs/api.md lists every error code with the status the API answers", async () => {
  const doc = await Deno.readTextFile("docs/api.md");
  const rows = [...doc.matchAll(/^\| `([a-z_]+)`\s+\| (\d{3})\s+\|/gm)];
  const documented = Object.fromEntries(rows.map((m) => [m[1]!, Number(m[2])]));
  assert.deepEqual(documented, { ...STATUS_OF_CODE });
});

Deno.test("every code src/errors.ts makes is mapped to a status", async () => {
  const source = await Deno.readTextFile("src/errors.ts");
  const codes = new Set(
    [...source.matchAll(/super\(\s*"([a-z_]+)"/g)].map((m) => m[1]!),
  );
  assert.ok(codes.size >= 15, [...codes].join(", "));
  for (const code of codes) assert.ok(Object.hasOwn(STATUS_OF_CODE, code), code);
});
