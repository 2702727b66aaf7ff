import assert from "node:assert/strict";
import { StrataError } from "../errors.ts";
import { DEFAULT_CONFIG, loadConfig, parseConfig } from "./config.ts";

Deno.test("parseConfig() returns the embedded defaults for an empty file", () => {
  assert.deepEqual(parseConfig(""), DEFAULT_CONFIG);
});

Deno.test("loadConfig() reads the shipped config/strata.yaml and the tiers file it names", async () => {
  // The shipped files spell out the embedded defaults.
  assert.deepEqual(await loadConfig("config/strata.yaml"), {
    ...DEFAULT_CONFIG,
    tiersFile: "config/tiers.yaml",
  });
});

Deno.test("loadConfig() names a missing tiers file and the config that names it", async () => {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp" });
  try {
    await Deno.writeTextFile(`${dir}/strata.yaml`, `tiers: ${dir}/nope.yaml\n`);
    await assert.rejects(
      loadConfig(`${dir}/strata.yaml`),
      (e) =>
        e instanceof StrataError &&
        e.message === `No tiers file: ${dir}/nope.yaml (named by 'tiers' in ${dir}/strata.yaml)`,
    );
    await Deno.writeTextFile(`${dir}/tiers.yaml`, "tiers:\n  - name: m\n    kind: memory\n");
    await Deno.writeTextFile(`${dir}/strata.yaml`, `tiers: ${dir}/tiers.yaml\n`);
    await assert.rejects(
      loadConfig(`${dir}/strata.yaml`),
      (e) =>
        e instanceof StrataError &&
        e.message === `Invalid tiers in ${dir}/tiers.yaml: 2:5: 'tiers[0]' must have a 'capacity'`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseConfig() takes tiers inline and a placement policy", () => {
  const c = parseConfig(
    "placement: placements/mine.ts\ntiers:\n  - { name: ram, kind: memory, capacity: 1MiB }\n  - { name: disk, kind: file, capacity: 1GiB, path: /scratch/strata }\n",
  );
  assert.equal(c.placement, "placements/mine.ts");
  assert.deepEqual(c.tiers.map((t) => [t.name, t.capacity, t.path]), [
    ["ram", 1 << 20, undefined],
    ["disk", 1 << 30, "/scratch/strata"],
  ]);
  assert.equal(c.tiersFile, undefined);
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
      "tiers:\n  - { name: ram, kind: memory, capacity: 0 }\n",
      "Invalid configuration: 'tiers[0].capacity' must be a byte size such as 1048576 or '512MiB', found 0",
    ],
    [
      "tiers:\n  memory: 4GiB\n",
      'Invalid configuration: \'tiers\' must be a list of at least one tier, found {"memory":"4GiB"}',
    ],
    [
      "limits:\n  maxBodyBytes: 0\n",
      "Invalid configuration: 'limits.maxBodyBytes' must be an integer from 1 to 9007199254740991, found 0",
    ],
    [
      "services:\n  hepnos: { blobSweepMs: 10 }\n",
      "Invalid configuration: 'services.hepnos.blobSweepMs' must be an integer from 1000 to 86400000, found 10",
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

Deno.test("parseConfig() reads the function sandbox bounds and refuses values out of range", () => {
  const c = parseConfig("functions:\n  processesPerVersion: 4\n  maxProcesses: 8\n");
  assert.deepEqual(c.functions, {
    processesPerVersion: 4,
    maxProcesses: 8,
    spares: 1,
    idleMs: 30_000,
    nice: 19,
  });
  assert.equal(parseConfig("functions:\n  nice: 0\n").functions.nice, 0);
  assert.throws(() => parseConfig("functions:\n  maxProcesses: 0\n"), /functions\.maxProcesses/);
  assert.throws(() => parseConfig("functions:\n  nice: -5\n"), /functions\.nice/);
  assert.throws(() => parseConfig("functions:\n  nice: 20\n"), /functions\.nice/);
  assert.throws(() => parseConfig("functions:\n  workers: 2\n"), /workers/);
});

Deno.test("parseConfig() refuses an alias it cannot resolve as invalid_config, printing nothing", () => {
  for (
    const [text, message] of [
      [
        "listen:\n  port: *a\n",
        "Invalid configuration: Unresolved alias (the anchor must be set before the alias): a",
      ],
      ["node: &n a\nlisten: {por<<: *n: 7070}\n", undefined],
    ] as const
  ) {
    assert.throws(() => parseConfig(text), (e) => {
      assert.ok(e instanceof StrataError && e.code === "invalid_config", String(e));
      if (message !== undefined) assert.equal(e.message, message);
      return true;
    });
  }
});
