import assert from "node:assert/strict";
import { StrataError } from "../errors.ts";
import { DEFAULT_TIERS, KIND_DEFAULTS, parseTiersFile } from "./tier_config.ts";

function rejects(text: string, message: string) {
  assert.throws(
    () => parseTiersFile(text, "config/tiers.yaml"),
    (e) => e instanceof StrataError && e.code === "invalid_config" && e.message === message,
    `expected: ${message}`,
  );
}

Deno.test("parseTiersFile() reads the shipped config/tiers.yaml", async () => {
  const text = await Deno.readTextFile(new URL("../../config/tiers.yaml", import.meta.url));
  // The shipped file spells out the defaults the service uses without it.
  assert.deepEqual(parseTiersFile(text, "config/tiers.yaml"), DEFAULT_TIERS);
  assert.deepEqual(DEFAULT_TIERS.map((t) => [t.name, t.kind, t.persistent]), [
    ["memory", "memory", false],
    ["file", "file", true],
    ["backing", "backing", true],
  ]);
});

Deno.test("parseTiersFile() fills in each kind's speed and persistence", () => {
  const tiers = parseTiersFile(
    "tiers:\n  - name: m\n    kind: memory\n    capacity: 1MiB\n  - name: b\n    kind: backing\n    capacity: 2GB\n    bandwidth: 300MiB/s\n    latency: 2ms\n",
    "t.yaml",
  );
  assert.deepEqual(tiers, [
    { name: "m", kind: "memory", capacity: 1 << 20, ...KIND_DEFAULTS.memory },
    {
      name: "b",
      kind: "backing",
      capacity: 2e9,
      bandwidth: 300 * 2 ** 20,
      latency: 0.002,
      persistent: true,
    },
  ]);
  assert.equal(DEFAULT_TIERS.at(-1)!.kind, "backing");
});

Deno.test("parseTiersFile() names the line, column and key of every bad declaration", () => {
  const one = (fields: string) =>
    `tiers:\n  - name: fast\n    kind: memory\n    capacity: 1GiB\n${fields}`;
  rejects(
    one("    capacity: lots\n"),
    "Invalid tiers in config/tiers.yaml: 5:5: Map keys must be unique",
  );
  rejects(
    "tiers:\n  - name: fast\n    kind: memory\n    capacity: lots\n",
    "Invalid tiers in config/tiers.yaml: 4:15: 'tiers[0].capacity' must be a byte size such as 1048576 or '512MiB', found \"lots\"",
  );
  rejects(
    one("    speed: 10GB/s\n"),
    "Invalid tiers in config/tiers.yaml: 5:5: 'tiers[0].speed' is not a tier key: expected one of name, kind, capacity, bandwidth, latency, persistent, path",
  );
  rejects(
    one("    bandwidth: fast\n"),
    "Invalid tiers in config/tiers.yaml: 5:16: 'tiers[0].bandwidth' must be bytes per second such as 2e9 or '10GB/s', found \"fast\"",
  );
  rejects(
    one("    latency: -1\n"),
    "Invalid tiers in config/tiers.yaml: 5:14: 'tiers[0].latency' must be seconds such as 0.0001 or '100us', found -1",
  );
  rejects(
    one("    path: /tmp/x\n"),
    "Invalid tiers in config/tiers.yaml: 5:11: 'tiers[0].path' is not allowed for a memory tier, found \"/tmp/x\"",
  );
  rejects(
    one("  - name: fast\n    kind: file\n    capacity: 1GiB\n"),
    "Invalid tiers in config/tiers.yaml: 5:11: 'tiers[1].name' must be unique: another tier has that name, found \"fast\"",
  );
  rejects(
    one("  - name: s\n    kind: shm\n    capacity: 1GiB\n    path: tmp/shm\n"),
    "Invalid tiers in config/tiers.yaml: 8:11: 'tiers[1].path' must be an absolute directory on a tmpfs for an shm tier, found \"tmp/shm\"",
  );
  rejects(
    one("  - name: pfs\n    kind: backing\n    capacity: 1TiB\n    persistent: false\n"),
    "Invalid tiers in config/tiers.yaml: 8:17: 'tiers[1].persistent' must be true for a backing tier, found false",
  );
  rejects(
    one("  - name: disk\n    kind: file\n"),
    "Invalid tiers in config/tiers.yaml: 5:5: 'tiers[1]' must have a 'capacity'",
  );
  rejects(
    "tiers:\n  - name: 9lives\n    kind: memory\n    capacity: 1\n",
    "Invalid tiers in config/tiers.yaml: 2:11: 'tiers[0].name' must be a letter then up to 63 letters, digits, '_' or '-', found \"9lives\"",
  );
  rejects(
    "tiers:\n",
    "Invalid tiers in config/tiers.yaml: 1:7: 'tiers' must be a list of at least one tier, found null",
  );
  rejects(
    "tier:\n  - name: m\n",
    "Invalid tiers in config/tiers.yaml: 1:1: unknown key 'tier', expected tiers",
  );
  rejects(
    "- a\n",
    "Invalid tiers in config/tiers.yaml: expected a mapping with a 'tiers' list, found [\"a\"]",
  );
  rejects(
    "tiers: [\n",
    "Invalid tiers in config/tiers.yaml: 2:1: Flow sequence in block collection must be sufficiently indented and end with a ]",
  );
});

Deno.test("parseTiersFile() names an empty key and an unresolved alias without overflowing its stack", () => {
  for (
    const [text, message] of [
      [
        "tiers:\n  - {name: extra, : file, capacity: 1GiB}\n",
        "Invalid tiers in t.yaml: 2:5: 'tiers[0].' is not a tier key: expected one of name, kind, capacity, bandwidth, latency, persistent, path",
      ],
      [
        "tiers:\n  - {name: *a, kind: file, capacity: 1GiB}\n",
        "Invalid tiers in t.yaml: Unresolved alias (the anchor must be set before the alias): a",
      ],
    ] as const
  ) {
    assert.throws(
      () => parseTiersFile(text, "t.yaml"),
      (e) => e instanceof StrataError && e.code === "invalid_config" && e.message === message,
    );
  }
});
