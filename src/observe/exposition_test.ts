import assert from "node:assert/strict";
import { renderMetrics } from "./exposition.ts";
import { DATASET_SERIES } from "./metrics.ts";

Deno.test("a scrape names at most DATASET_SERIES datasets and counts them all", async () => {
  const many = Array.from({ length: DATASET_SERIES * 3 }, (_, i) => ({
    name: `d${String(i).padStart(6, "0")}`,
    latest: i,
  }));
  const text = await renderMetrics({
    datasets: () => Promise.resolve({ count: many.length, first: many }),
  });
  const series = text.match(/^strata_dataset_latest_version\{/gm) ?? [];
  assert.equal(series.length, DATASET_SERIES);
  assert.match(text, new RegExp(`^strata_datasets ${DATASET_SERIES * 3}$`, "m"));
  assert.match(text, /^strata_dataset_latest_version\{dataset="d000000"\} 0$/m);
  assert.doesNotMatch(text, new RegExp(`dataset="d${String(DATASET_SERIES).padStart(6, "0")}"`));
  const few = await renderMetrics({
    datasets: () => Promise.resolve({ count: 3, first: many.slice(0, 3) }),
  });
  assert.equal((few.match(/^strata_dataset_latest_version\{/gm) ?? []).length, 3);
  assert.match(few, /^strata_datasets 3$/m);
});
