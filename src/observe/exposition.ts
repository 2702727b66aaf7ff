/**
 * The text `GET /metrics` answers: the process's counters and histograms,
 * and gauges read at scrape time from the parts the process runs.
 *
 * @module
 */

import { Gauge, Registry } from "prom-client";
import { DATASET_SERIES, processMetrics } from "./metrics.ts";

/** One tier of a node, as its gauges show it. */
export interface TierGauge {
  /** Node name. */
  readonly node: string;
  /** Tier name. */
  readonly tier: string;
  /** Capacity in bytes. */
  readonly capacity: number;
  /** Bytes used. */
  readonly used: number;
  /** Copies held. */
  readonly copies: number;
}

/** The sandbox pool's state, as its gauges show it. */
export interface PoolGauge {
  /** Processes with a function loaded (busy or warm). */
  readonly workers: number;
  /** Spare processes started with nothing loaded. */
  readonly spares: number;
  /** Calls waiting for a process. */
  readonly waiting: number;
}

/** What a scrape reads from the process's parts; each is absent where the process has no such part. */
export interface MetricSources {
  /** This runtime's tiers. */
  readonly tiers?: () => readonly TierGauge[];
  /** The function sandbox pool. */
  readonly pool?: () => PoolGauge;
  /** The node leases a name server keeps, by state. */
  readonly nodes?: () => Promise<readonly { readonly state: "up" | "down" }[]>;
  /**
   * How many datasets there are, and the first of them by name (up to
   * `DATASET_SERIES` get series) with their newest committed version (0:
   * none yet).
   */
  readonly datasets?: () => Promise<{
    readonly count: number;
    readonly first: readonly { readonly name: string; readonly latest: number }[];
  }>;
  /** The small copies' bytes a name server keeps for its commit notices. */
  readonly inline?: () => { readonly copies: number; readonly bytes: number };
}

/** The content type of the Prometheus text format. */
export const METRICS_CONTENT_TYPE: string = processMetrics.contentType;

/**
 * Renders the Prometheus text format: the process's metrics and the gauges
 * of `sources`. A source that fails is left out of this scrape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderMetrics } from "./exposition.ts";
 * const text = await renderMetrics({
 *   tiers: () => [{ node: "a", tier: "memory", capacity: 1024, used: 256, copies: 2 }],
 *   inline: () => ({ copies: 2, bytes: 8192 }),
 * });
 * assert.match(text, /^strata_tier_used_bytes\{node="a",tier="memory"\} 256$/m);
 * assert.match(text, /^strata_inline_bytes 8192$/m);
 * assert.match(text, /^# TYPE strata_http_request_duration_seconds histogram$/m);
 * ```
 */
export async function renderMetrics(sources: MetricSources): Promise<string> {
  const scrape = new Registry();
  const registers = [scrape];
  const tiers = sources.tiers?.();
  if (tiers !== undefined) {
    const labelNames = ["node", "tier"] as const;
    const capacity = new Gauge({
      name: "strata_tier_capacity_bytes",
      help: "Capacity of each tier of this runtime, in bytes",
      labelNames,
      registers,
    });
    const used = new Gauge({
      name: "strata_tier_used_bytes",
      help: "Bytes used in each tier of this runtime",
      labelNames,
      registers,
    });
    const copies = new Gauge({
      name: "strata_tier_copies",
      help: "Copies held in each tier of this runtime",
      labelNames,
      registers,
    });
    for (const t of tiers) {
      const labels = { node: t.node, tier: t.tier };
      capacity.set(labels, t.capacity);
      used.set(labels, t.used);
      copies.set(labels, t.copies);
    }
  }
  const pool = sources.pool?.();
  if (pool !== undefined) {
    const processes = new Gauge({
      name: "strata_function_processes",
      help: "Function sandbox processes, by state (warm: a function loaded; spare: none yet)",
      labelNames: ["state"] as const,
      registers,
    });
    processes.set({ state: "warm" }, pool.workers);
    processes.set({ state: "spare" }, pool.spares);
    new Gauge({
      name: "strata_function_calls_waiting",
      help: "Function calls waiting for a sandbox process",
      registers,
    }).set(pool.waiting);
  }
  const nodes = await sources.nodes?.().catch(() => undefined);
  if (nodes !== undefined) {
    const leases = new Gauge({
      name: "strata_node_leases",
      help: "Nodes this name server knows, by lease state (up, down)",
      labelNames: ["state"] as const,
      registers,
    });
    leases.set({ state: "up" }, nodes.filter((n) => n.state === "up").length);
    leases.set({ state: "down" }, nodes.filter((n) => n.state === "down").length);
  }
  const datasets = await sources.datasets?.().catch(() => undefined);
  if (datasets !== undefined) {
    new Gauge({
      name: "strata_datasets",
      help: "Datasets this name server holds",
      registers,
    }).set(datasets.count);
    const latest = new Gauge({
      name: "strata_dataset_latest_version",
      help:
        `Each dataset's newest committed version (0: none yet), for the first ${DATASET_SERIES} datasets by name`,
      labelNames: ["dataset"] as const,
      registers,
    });
    for (const d of datasets.first.slice(0, DATASET_SERIES)) {
      latest.set({ dataset: d.name }, d.latest);
    }
  }
  const inline = sources.inline?.();
  if (inline !== undefined) {
    new Gauge({
      name: "strata_inline_copies",
      help: "Small copies whose bytes this name server keeps for its subscribers' commit notices",
      registers,
    }).set(inline.copies);
    new Gauge({
      name: "strata_inline_bytes",
      help: "Bytes of the small copies this name server keeps for its subscribers' commit notices",
      registers,
    }).set(inline.bytes);
  }
  return await Registry.merge([processMetrics, scrape]).metrics();
}
