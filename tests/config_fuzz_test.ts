/**
 * Mutated configuration files (fixed seeds): the shipped config/strata.yaml
 * and config/tiers.yaml with YAML tokens inserted, bytes deleted and lines
 * repeated. Each either loads or is refused with `invalid_config`; nothing
 * else is thrown.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../src/cli/config.ts";
import { StrataError } from "../src/errors.ts";
import { parseTiersFile } from "../src/tiers/tier_config.ts";
import { mulberry32 } from "./_fixtures.ts";

const ROUNDS = 5000;

/** Tokens inserted: YAML's syntax, aliases, tags, odd scalars and units. */
const PIECES = [
  "{",
  "}",
  "[",
  "]",
  ":",
  "-",
  " ",
  "\n",
  "  ",
  "0",
  "-1",
  "1e400",
  "null",
  "true",
  "x",
  "'",
  '"',
  "&a",
  "*a",
  "!!binary",
  "<<: *a",
  "~",
  ".inf",
  "0x10",
  "GiB",
  "GB/s",
  "#",
  "|",
  ">",
];

function mutate(text: string, rnd: () => number): string {
  let t = text;
  for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
    const at = Math.floor(rnd() * t.length);
    const r = rnd();
    if (r < 0.4) t = t.slice(0, at) + PIECES[Math.floor(rnd() * PIECES.length)] + t.slice(at);
    else if (r < 0.7) t = t.slice(0, at) + t.slice(at + 1 + Math.floor(rnd() * 5));
    else {
      const lines = t.split("\n");
      lines.splice(Math.floor(rnd() * lines.length), 0, lines[Math.floor(rnd() * lines.length)]!);
      t = lines.join("\n");
    }
  }
  return t;
}

function fuzz(base: string, seed: number, parse: (text: string) => unknown): number {
  parse(base);
  const rnd = mulberry32(seed);
  let loaded = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const text = mutate(base, rnd);
    try {
      parse(text);
      loaded++;
    } catch (e) {
      assert.ok(
        e instanceof StrataError && e.code === "invalid_config",
        `round ${i}: ${e}\n--- the file ---\n${text}`,
      );
    }
  }
  return loaded;
}

Deno.test("parseConfig() loads or refuses mutated config/strata.yaml with invalid_config only", async () => {
  const base = `${await Deno.readTextFile("config/strata.yaml")}
services:
  hepnos: { targets: 4, durable: false, options: { overwrite: true, cacheBytes: 1000 } }
`;
  const loaded = fuzz(base, 4, parseConfig);
  assert.ok(loaded > 0 && loaded < ROUNDS, `${loaded} of ${ROUNDS} loaded`);
});

Deno.test("parseTiersFile() loads or refuses mutated config/tiers.yaml with invalid_config only", async () => {
  const base = `${await Deno.readTextFile(
    "config/tiers.yaml",
  )}  - {name: extra, kind: file, capacity: &c 1GiB}
  - {name: more, kind: file, capacity: *c}
`;
  const loaded = fuzz(base, 6, (text) => parseTiersFile(text, "tiers.yaml"));
  assert.ok(loaded > 0 && loaded < ROUNDS, `${loaded} of ${ROUNDS} loaded`);
});
