import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { copyRecordBytes, datasetRecordBytes, versionRecordBytes } from "./_record_bytes.ts";
import { cellCopy } from "./_testing.ts";
import type { DatasetRecord, FragmentRecord, StoredVersionRecord } from "./records.ts";

const DESCRIPTION = "dataset cells { var t [64]int8 }\nfragment cell(r) { var t = t[r:r + 1] }";

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

Deno.test("datasetRecordBytes() counts more than Deno KV's encoding of a record takes", () => {
  const base: DatasetRecord = {
    name: "d",
    description: DESCRIPTION,
    retention: 2,
    durable: false,
    overwrite: false,
    sizes: {},
    createdAt: Date.now(),
  };
  const records: DatasetRecord[] = [
    base,
    { ...base, name: "é".repeat(100), description: `${DESCRIPTION}\n// ${"雪".repeat(4000)}` },
    { ...base, sizes: { n: 2 ** 40, m: 3 }, consumers: ["node-a", "nœud-b"], deleting: true },
    { ...base, description: '\u0000\n\t"\\'.repeat(2000) },
  ];
  for (const r of records) {
    const encoded = serialize(r).byteLength;
    assert.ok(
      datasetRecordBytes(r) >= encoded,
      `${datasetRecordBytes(r)} >= ${encoded} for ${r.name}`,
    );
  }
});
