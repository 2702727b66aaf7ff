import assert from "node:assert/strict";
import { StrataError } from "../errors.ts";
import { parseConfig } from "./config.ts";
import { main } from "./main.ts";
import { shardIndex } from "./processes.ts";

Deno.test("parseConfig() reads the several-node keys", () => {
  const c = parseConfig(
    "nameservers: [http://127.0.0.1:7000, http://127.0.0.1:7001]\nwire:\n  port: 7171\nleaseMs: 2000\nreshape: source\nkv: https://kv.example/db\n",
  );
  assert.deepEqual(c.nameservers, ["http://127.0.0.1:7000", "http://127.0.0.1:7001"]);
  assert.deepEqual(c.wire, { hostname: "127.0.0.1", port: 7171 });
  assert.equal(c.leaseMs, 2000);
  assert.equal(c.reshape, "source");
  assert.equal(c.kv, "https://kv.example/db");
});

Deno.test("parseConfig() names a bad several-node key", () => {
  const cases: [string, string][] = [
    [
      "nameservers: [127.0.0.1:7000]\n",
      `Invalid configuration: 'nameservers' must be a list of http:// URLs, found ["127.0.0.1:7000"]`,
    ],
    [
      "reshape: sideways\n",
      `Invalid configuration: 'reshape' must be auto, source or destination, found "sideways"`,
    ],
    [
      "leaseMs: 5\n",
      "Invalid configuration: 'leaseMs' must be an integer from 100 to 3600000, found 5",
    ],
    [
      "wire:\n  prt: 1\n",
      "Invalid configuration: unknown key 'wire.prt', expected one of hostname, port",
    ],
  ];
  for (const [yaml, message] of cases) {
    assert.throws(
      () => parseConfig(yaml),
      (e) => e instanceof StrataError && e.message === message,
    );
  }
});

Deno.test("strata runtime without a name server exits with 2 and says what it needs", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void errors.push(args.join(" "));
  try {
    assert.equal(await main(["runtime", "--node", "a"]), 2);
  } finally {
    console.error = original;
  }
  assert.deepEqual(errors, [
    "strata: A runtime needs its name servers: --nameserver URL or 'nameservers'",
  ]);
});

Deno.test("shardIndex() finds a name server in its list by its listen URL, or refuses", () => {
  const at = (port: number, list: string) =>
    parseConfig(`listen:\n  port: ${port}\nnameservers: [${list}]\n`);
  const two = "http://127.0.0.1:7000, http://127.0.0.1:7001/";
  assert.equal(shardIndex(at(7000, two)), 0);
  assert.equal(shardIndex(at(7001, two)), 1);
  assert.equal(shardIndex(at(7000, "http://127.0.0.1:7000")), undefined);
  assert.throws(() => shardIndex(at(7002, two)), (e) => {
    assert.ok(e instanceof StrataError);
    assert.equal(
      e.message,
      "This name server listens on http://127.0.0.1:7002, which is not in 'nameservers' (http://127.0.0.1:7000, http://127.0.0.1:7001/): list it with the same host and port",
    );
    return true;
  });
});
