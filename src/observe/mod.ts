/**
 * What a process says about itself: structured logs and Prometheus metrics.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { metrics, renderMetrics } from "./mod.ts";
 * metrics.spills.inc({ from: "memory", to: "file" });
 * assert.match(await renderMetrics({}), /strata_spills_total\{from="memory",to="file"\} \d+/);
 * ```
 *
 * @module
 */

export {
  flushLog,
  log,
  LOG_LEVELS,
  type LogFields,
  type LogFormat,
  Logger,
  type LogLevel,
  type LogOptions,
} from "./log.ts";
export {
  countCommit,
  DATASET_SERIES,
  forgetDataset,
  metrics,
  OTHER_DATASETS,
  processMetrics,
} from "./metrics.ts";
export { FastHistogram } from "./fast_histogram.ts";
export {
  METRICS_CONTENT_TYPE,
  type MetricSources,
  type PoolGauge,
  renderMetrics,
  type TierGauge,
} from "./exposition.ts";
