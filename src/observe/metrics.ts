/**
 * The process's Prometheus metrics (prom-client): counters and histograms
 * that the layers bump as work happens, one increment per request, copy,
 * frame or call, never per byte.
 *
 * @module
 */

import { Counter, Gauge, Registry } from "prom-client";
import { FastHistogram } from "./fast_histogram.ts";

/**
 * Where the process's counters and histograms are kept; `renderMetrics()`
 * writes them with the gauges read at scrape time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processMetrics } from "./metrics.ts";
 * assert.match(await processMetrics.metrics(), /strata_published_bytes_total/);
 * ```
 */
export const processMetrics: Registry = new Registry();
const registers = [processMetrics];

/** Latency buckets, in seconds: 100 µs to 60 s. */
const SECONDS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60];

/**
 * The metrics the layers update. Names follow Prometheus conventions:
 * `_total` counters, `_seconds` and `_bytes` units.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { metrics, processMetrics } from "./metrics.ts";
 * metrics.publishedBytes.inc(4096);
 * const text = await processMetrics.getSingleMetricAsString("strata_published_bytes_total");
 * assert.match(text, /^strata_published_bytes_total \d+$/m);
 * ```
 */
export const metrics = {
  /** HTTP requests by method, route and status, with their latency. */
  requests: new FastHistogram({
    name: "strata_http_request_duration_seconds",
    help: "HTTP requests by method, route pattern and status: latency in seconds",
    labelNames: ["method", "route", "status"] as const,
    buckets: SECONDS,
    registers,
  }),
  /** Operations of hosted services run on this runtime, by outcome, with their latency. */
  serviceOperations: new FastHistogram({
    name: "strata_service_operation_duration_seconds",
    help:
      "Operations of hosted services (HEPnOS, FlameStore, Mobject, ...) run on this runtime, by service, operation and outcome (ok or the error code): latency in seconds",
    labelNames: ["service", "operation", "code"] as const,
    buckets: SECONDS,
    registers,
  }),
  /** Payload bytes stored by publishes on this runtime. */
  publishedBytes: new Counter({
    name: "strata_published_bytes_total",
    help: "Payload bytes published into this runtime's tiers",
    registers,
  }),
  /** Payload bytes answered to attaches by this runtime. */
  attachedBytes: new Counter({
    name: "strata_attached_bytes_total",
    help: "Payload bytes answered to attaches by this runtime",
    registers,
  }),
  /** Bytes written by copy plans (reshapes) on this runtime. */
  reshapedBytes: new Counter({
    name: "strata_reshaped_bytes_total",
    help: "Bytes written by copy plans (reshapes between layouts) on this runtime",
    registers,
  }),
  /** Copies a subscription took from the bytes its commit notice carried, instead of fetching them. */
  inlineCopies: new Counter({
    name: "strata_inline_copies_total",
    help:
      "Small copies a subscription took from the bytes their commit notice carried, not fetched from their node",
    registers,
  }),
  /** Reads of copies (or service blobs) held in files that read only the pieces needed. */
  piecedReads: new Counter({
    name: "strata_copy_piece_reads_total",
    help:
      "Reads of copies or service blobs on file-backed tiers that read and checked only the pieces an attach or a range needed",
    registers,
  }),
  /** Payload bytes over the data plane, by direction. */
  wireBytes: new Counter({
    name: "strata_wire_bytes_total",
    help: "Payload bytes over the data plane, by direction (sent, received)",
    labelNames: ["direction"] as const,
    registers,
  }),
  /** Data-plane connections opened, by side. */
  wireConnections: new Counter({
    name: "strata_wire_connections_total",
    help: "Data-plane connections opened, by side (client, server)",
    labelNames: ["side"] as const,
    registers,
  }),
  /** Data-plane connections open now, by side. */
  wireOpen: new Gauge({
    name: "strata_wire_connections_open",
    help: "Data-plane connections open now, by side (client, server)",
    labelNames: ["side"] as const,
    registers,
  }),
  /** Data-plane connections refused (token, peer down). */
  wireRefused: new Counter({
    name: "strata_wire_connections_refused_total",
    help: "Data-plane connections that failed or were refused, by side",
    labelNames: ["side"] as const,
    registers,
  }),
  /** Received copies whose CRC-32 did not match. */
  checksumFailures: new Counter({
    name: "strata_wire_checksum_failures_total",
    help: "Copies received over the data plane whose CRC-32 did not match",
    registers,
  }),
  /** Copies moved down the tiers to make room, by tier left and tier reached. */
  spills: new Counter({
    name: "strata_spills_total",
    help: "Copies spilled to a slower tier to make room, by tier left (from) and reached (to)",
    labelNames: ["from", "to"] as const,
    registers,
  }),
  /** Bytes of the copies spilled. */
  spilledBytes: new Counter({
    name: "strata_spilled_bytes_total",
    help: "Bytes of the copies spilled to a slower tier",
    registers,
  }),
  /** Copies found lost (gone or corrupt) on this node. */
  copiesLost: new Counter({
    name: "strata_copies_lost_total",
    help: "Copies found missing or corrupt on this node",
    registers,
  }),
  /** Versions committed by this registry, by dataset. */
  versionsCommitted: new Counter({
    name: "strata_versions_committed_total",
    help: "Versions committed by this name server, by dataset",
    labelNames: ["dataset"] as const,
    registers,
  }),
  /** Group commits written to Deno KV, by size of the batch. */
  groupCommitBatch: new FastHistogram({
    name: "strata_group_commit_batch_size",
    help: "Records written per group commit to Deno KV",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers,
  }),
  /** The registry's Deno KV atomic commits and their latency. */
  kvCommit: new FastHistogram({
    name: "strata_kv_commit_duration_seconds",
    help: "Deno KV atomic commits of the registry (group commits) and their latency in seconds",
    buckets: SECONDS,
    registers,
  }),
  /** Waits for a version under way now. */
  waits: new Gauge({
    name: "strata_waits_in_progress",
    help: "Requests waiting for a version to be committed",
    registers,
  }),
  /** Function calls by outcome (`ok` or a failure kind), with their latency. */
  functionCalls: new FastHistogram({
    name: "strata_function_call_duration_seconds",
    help: "Function calls in sandbox processes by outcome (ok or the failure's code): latency",
    labelNames: ["outcome"] as const,
    buckets: SECONDS,
    registers,
  }),
  /** Sandbox processes killed for passing a limit. */
  functionKills: new Counter({
    name: "strata_function_processes_killed_total",
    help: "Function sandbox processes killed, by limit (time, memory, output, cpu)",
    labelNames: ["limit"] as const,
    registers,
  }),
  /** Pipeline runs that ended, by state. */
  pipelineRuns: new Counter({
    name: "strata_pipeline_runs_total",
    help: "Pipeline runs that ended, by state (succeeded, failed, skipped)",
    labelNames: ["state"] as const,
    registers,
  }),
  /** Node leases that lapsed. */
  leaseLapses: new Counter({
    name: "strata_node_lease_lapses_total",
    help: "Node leases seen lapsed by this name server",
    registers,
  }),
};

/**
 * Most datasets given series of their own in a metric labelled by dataset
 * (`strata_versions_committed_total`, `strata_dataset_latest_version`): a
 * name server can hold hundreds of thousands of datasets, and a series for
 * each would make every scrape slow (about 3 µs a series on the server's
 * one JavaScript thread, which also answers requests) and every Prometheus
 * server large. Past the bound, datasets count together under
 * `dataset="(other)"` or are left out of the gauge (`strata_datasets`
 * still counts them all).
 */
export const DATASET_SERIES = 1000;

/** The label the datasets past `DATASET_SERIES` share. */
export const OTHER_DATASETS = "(other)";

const committedSeries = new Set<string>();

/**
 * Counts a committed version of a dataset, under the dataset's own label
 * while fewer than `DATASET_SERIES` datasets have one, else under
 * `OTHER_DATASETS`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countCommit, processMetrics } from "./metrics.ts";
 * countCommit("particles");
 * const text = await processMetrics.getSingleMetricAsString("strata_versions_committed_total");
 * assert.match(text, /^strata_versions_committed_total\{dataset="particles"\} \d+$/m);
 * ```
 */
export function countCommit(dataset: string): void {
  if (!committedSeries.has(dataset)) {
    if (committedSeries.size >= DATASET_SERIES) {
      metrics.versionsCommitted.inc({ dataset: OTHER_DATASETS });
      return;
    }
    committedSeries.add(dataset);
  }
  metrics.versionsCommitted.inc({ dataset });
}

/**
 * Drops a deleted dataset's commit counter, making room for another
 * dataset's series.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countCommit, forgetDataset, processMetrics } from "./metrics.ts";
 * countCommit("scratch");
 * forgetDataset("scratch");
 * const text = await processMetrics.getSingleMetricAsString("strata_versions_committed_total");
 * assert.doesNotMatch(text, /dataset="scratch"/);
 * ```
 */
export function forgetDataset(dataset: string): void {
  if (committedSeries.delete(dataset)) metrics.versionsCommitted.remove({ dataset });
}
