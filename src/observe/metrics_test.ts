import assert from "node:assert/strict";
import {
  countCommit,
  DATASET_SERIES,
  forgetDataset,
  OTHER_DATASETS,
  processMetrics,
} from "./metrics.ts";

/** Each series of the commit counter: its dataset label and value. */
async function committed(): Promise<Map<string, number>> {
  const text = await processMetrics.getSingleMetricAsString("strata_versions_committed_total");
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^strata_versions_committed_total\{dataset="([^"]*)"\} (\d+)$/gm)) {
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

Deno.test("commits count under their dataset up to the bound, past it under (other)", async () => {
  const names = Array.from({ length: DATASET_SERIES + 5 }, (_, i) => `bound-${i}`);
  const before = (await committed()).get(OTHER_DATASETS) ?? 0;
  for (const n of names) countCommit(n);
  countCommit(names[0]!);
  const after = await committed();
  assert.ok(after.size <= DATASET_SERIES + 1, `${after.size} series`);
  assert.equal(after.get(names[0]!), 2);
  assert.ok((after.get(OTHER_DATASETS) ?? 0) - before >= 5);
  assert.equal(after.has(names.at(-1)!), false);
  // A deleted dataset makes room for another.
  for (const n of names) forgetDataset(n);
  countCommit("bound-late");
  const late = await committed();
  assert.equal(late.get("bound-late"), 1);
  assert.equal(late.has(names[0]!), false);
  forgetDataset("bound-late");
});
