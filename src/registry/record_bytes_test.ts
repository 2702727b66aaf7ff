import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { copyRecordBytes, versionRecordBytes } from "./_record_bytes.ts";
import { cellCopy } from "./_testing.ts";
import type { FragmentRecord, StoredVersionRecord } from "./records.ts";

Deno.test("copyRecordBytes() counts more than Deno KV's encoding of a copy record takes", () => {
  const base = cellCopy("c", 7);
  const records: FragmentRecord[] = [
    base,
    // Longer than names may be, so that only the count per character covers them.
    { ...base, dataset: "é".repeat(2000), node: "nœud-".repeat(400), tier: "雪".repeat(1000) },
    {
      ...base,
      bindings: { r: 2 ** 52, s: -1.5, "ü": 3 },
      reshape: "destination",
      replicas: [{ node: "n2", tier: "memory" }, { node: "雪".repeat(40), tier: "file" }],
    },
  ];
  for (const r of records) {
    const encoded = serialize(r).byteLength;
    assert.ok(copyRecordBytes(r) >= encoded, `${copyRecordBytes(r)} >= ${encoded}`);
  }
});

Deno.test("versionRecordBytes() counts more than Deno KV's encoding of a version record takes, its copies aside", () => {
  const records: StoredVersionRecord[] = [
    { version: 1, state: "open", fragments: 0, bytes: 0 },
    {
      version: 2 ** 53 - 1,
      state: "committed",
      fragments: 2 ** 31,
      bytes: 2 ** 52 + 0.5,
      committedAt: Date.now() + 0.25,
    },
    {
      version: 3,
      state: "retired",
      fragments: 1,
      bytes: -1.5,
      committedAt: 1,
      sizes: { n: 2 ** 40, ["é".repeat(100)]: 7, ["雪".repeat(60)]: -3.25 },
    },
  ];
  for (const r of records) {
    const encoded = serialize(r).byteLength;
    assert.ok(versionRecordBytes(r) >= encoded, `${versionRecordBytes(r)} >= ${encoded}`);
  }
});
