import assert from "node:assert/strict";
import { StrataError } from "../errors.ts";
import { DEFAULT_CONFIG, parseConfig } from "./config.ts";

Deno.test("parseConfig() returns the embedded defaults for an empty file", () => {
  assert.deepEqual(parseConfig(""), DEFAULT_CONFIG);
});

Deno.test("parseConfig() reads the shipped config/strata.yaml", async () => {
  const c = parseConfig(
    await Deno.readTextFile(new URL("../../config/strata.yaml", import.meta.url)),
  );
  assert.deepEqual(c, DEFAULT_CONFIG);
});

Deno.test("parseConfig() names the key of a bad value", () => {
  const cases: [string, string][] = [
    [
      "listen:\n  port: 70000\n",
      "Invalid configuration: 'listen.port' must be an integer from 0 to 65535, found 70000",
    ],
    [
      "listen:\n  prot: 1\n",
      "Invalid configuration: unknown key 'listen.prot', expected one of hostname, port",
    ],
    ["- a\n", "Invalid configuration: 'the file' must be a mapping, found [\"a\"]"],
    [
      "limits:\n  maxBodyBytes: 0\n",
      "Invalid configuration: 'limits.maxBodyBytes' must be an integer from 1 to 9007199254740991, found 0",
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseConfig(text),
      (e) => e instanceof StrataError && e.message === message,
    );
  }
  assert.throws(
    () => parseConfig("a: [\n"),
    (e) => e instanceof StrataError && e.code === "invalid_config",
  );
});
