/**
 * Tier benchmark: put and get throughput of each tier kind next to a memcpy
 * (`Uint8Array.prototype.set`) of the same bytes in the same run, then the
 * same through a tier set (placement, index and LRU included), then
 * placement decisions and spill plans per second.
 *
 * GB/s here is payload bytes stored or read per second (1 GB = 1e9 bytes),
 * and memcpy's is bytes copied per second, so the ratio reads "a put costs
 * this many memcpys". The memory tier keeps the buffer it is handed (a
 * publish's body is read into a buffer the runtime keeps), so its put and
 * get copy nothing.
 *
 * Run: `deno run --allow-read=. --allow-write=bench/results,tmp bench/tiers_bench.ts`
 *
 * @module
 */

import { writeResultFiles } from "./_results.ts";
import { BUILTIN_POLICIES } from "../placements/mod.ts";
import { planSpill, type SpillCopy, type SpillTier } from "../src/tiers/spill.ts";
import type { NodeView, PlacementRequest, TierView } from "../src/tiers/policy.ts";
import {
  BackingTier,
  FileTier,
  KIND_DEFAULTS,
  MemoryTier,
  ShmTier,
  type Tier,
  TierSet,
} from "../src/tiers/mod.ts";

/** Copy sizes measured. */
export const SIZES = [1 << 20, 16 << 20, 64 << 20];
const REPS = 5;

/** One tier kind at one size. */
export interface TierResult {
  /** Tier kind (and where it ran). */
  readonly tier: string;
  /** Bytes per copy. */
  readonly bytes: number;
  /** Best put time, microseconds. */
  readonly putUs: number;
  /** Best get time, microseconds. */
  readonly getUs: number;
  /** Best put throughput, GB/s. */
  readonly putGBs: number;
  /** Best get throughput, GB/s. */
  readonly getGBs: number;
  /** memcpy of the same bytes, GB/s. */
  readonly memcpyGBs: number;
  /** put / memcpy. */
  readonly putVsMemcpy: number;
  /** get / memcpy. */
  readonly getVsMemcpy: number;
  /** Whether put and get copy the bytes (the memory tier keeps references). */
  readonly copies: boolean;
  /** Whether every get returned the bytes put. */
  readonly verified: boolean;
}

/** Decisions per second of one policy on one cluster shape. */
export interface PolicyResult {
  /** Policy or rule. */
  readonly policy: string;
  /** Shape of the input. */
  readonly input: string;
  /** Decisions per second. */
  readonly perSecond: number;
}

/** Everything one run measured. */
export interface TiersBenchResult {
  /** Where and when it ran. */
  readonly machine: {
    readonly date: string;
    readonly deno: string;
    readonly v8: string;
    readonly build: typeof Deno.build;
    readonly hardwareConcurrency: number;
  };
  /** Repetitions per measurement (best kept). */
  readonly repetitions: number;
  /** Per tier kind and size. */
  readonly tiers: readonly TierResult[];
  /** Decision rates. */
  readonly policies: readonly PolicyResult[];
}

const gbs = (bytes: number, ms: number) => bytes / ms / 1e6;

async function best(fn: () => Promise<unknown> | unknown): Promise<number> {
  await fn();
  let min = Infinity;
  for (let r = 0; r < REPS; r++) {
    const start = performance.now();
    await fn();
    min = Math.min(min, performance.now() - start);
  }
  return min;
}

async function measureTier(name: string, tier: Tier, bytes: number): Promise<TierResult> {
  const src = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) src[i] = (i >> 12) & 255;
  const copy = new Uint8Array(bytes);
  const memcpyMs = await best(() => copy.set(src));
  let n = 0;
  const putMs = await best(async () => {
    await tier.delete(`k${n}`);
    await tier.put(`k${++n}`, src);
  });
  let verified = true;
  const getMs = await best(async () => {
    const got = await tier.get(`k${n}`);
    verified &&= got !== undefined && got.byteLength === bytes &&
      got[bytes - 4096] === src[bytes - 4096];
  });
  await tier.delete(`k${n}`);
  const memcpyGBs = gbs(bytes, memcpyMs);
  return {
    tier: name,
    bytes,
    putUs: putMs * 1000,
    getUs: getMs * 1000,
    putGBs: gbs(bytes, putMs),
    getGBs: gbs(bytes, getMs),
    memcpyGBs,
    putVsMemcpy: gbs(bytes, putMs) / memcpyGBs,
    getVsMemcpy: gbs(bytes, getMs) / memcpyGBs,
    copies: !(tier instanceof MemoryTier),
    verified,
  };
}

/** Opens an shm tier under /dev/shm, or, where Deno refuses /dev to narrow permissions, under tmp/. */
async function shmTier(dir: string, capacity: number): Promise<{ tier: Tier; where: string }> {
  const shm = `/dev/shm/strata/bench-${crypto.randomUUID()}`;
  try {
    return { tier: await ShmTier.open("shm", shm, capacity), where: "shm (/dev/shm)" };
  } catch {
    return {
      tier: await ShmTier.open("shm", `${dir}/shm`, capacity),
      where: "shm (on tmp/: Deno grants /dev/shm only to --allow-all)",
    };
  }
}

function cluster(nodes: number): PlacementRequest {
  const tier = (name: string, kind: TierView["kind"], capacity: number, used: number) => ({
    name,
    kind,
    capacity,
    used,
    free: capacity - used,
    room: capacity - used / 2,
    ...KIND_DEFAULTS[kind],
  });
  const views: NodeView[] = Array.from({ length: nodes }, (_, i) => ({
    name: `n${i}`,
    link: i === 0 ? { bandwidth: Infinity, latency: 0 } : { bandwidth: 3.8e9, latency: 20e-6 },
    tiers: [
      tier("memory", "memory", 4 << 30, (i * 7919) % (4 << 30)),
      tier("shm", "shm", 4 << 30, (i * 104729) % (4 << 30)),
      tier("file", "file", 64 << 30, 1 << 30),
      tier("backing", "backing", 1024 << 30, 1 << 30),
    ],
  }));
  return {
    fragment: {
      dataset: "particles",
      version: 7,
      fragment: "block",
      bindings: { r0: 0, r1: 64 },
      byteLength: 64 << 20,
      durable: true,
      consumers: nodes > 1 ? [`n${nodes - 1}`] : [],
    },
    node: "n0",
    nodes: views,
    sequence: 0,
  };
}

/** Calls per second of `fn`, timed in batches so the clock costs nothing per call. */
function rate(fn: (i: number) => unknown, minMs = 300): number {
  let n = 0;
  let batch = 1;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < batch; i++) fn(n++);
    elapsed = performance.now() - start;
    if (elapsed < minMs / 10) batch *= 2;
  }
  return n / elapsed * 1000;
}

/** Stores per second into a full fast tier of `count` 4 KiB copies: each store spills one. */
async function spillingStores(count: number): Promise<number> {
  const size = 4096;
  const spec = (name: string, capacity: number) => ({
    name,
    kind: "memory" as const,
    capacity,
    ...KIND_DEFAULTS.memory,
  });
  const tiers = new TierSet({
    node: "n0",
    tiers: [
      { tier: new MemoryTier("fast", count * size), spec: spec("fast", count * size) },
      { tier: new MemoryTier("slow", 1 << 30), spec: { ...spec("slow", 1 << 30), bandwidth: 1e9 } },
    ],
  });
  const bytes = new Uint8Array(size);
  const fragment = (version: number) => ({
    dataset: "d",
    version,
    fragment: "dataset",
    bindings: {},
    byteLength: size,
    durable: false,
    consumers: [],
  });
  let v = 0;
  while (v < count) await tiers.store(`d/${++v}`, bytes, fragment(v));
  const n = 2000;
  const start = performance.now();
  for (let i = 0; i < n; i++) await tiers.store(`d/${++v}`, bytes, fragment(v));
  return n / (performance.now() - start) * 1000;
}

async function policyRates(tierSet: TierSet): Promise<PolicyResult[]> {
  const out: PolicyResult[] = [];
  for (const nodes of [1, 64]) {
    const request = cluster(nodes);
    for (const [name, place] of Object.entries(BUILTIN_POLICIES)) {
      out.push({
        policy: name,
        input: `${nodes} node${nodes > 1 ? "s" : ""} x 4 tiers`,
        perSecond: rate((i) => place({ ...request, sequence: i })),
      });
    }
  }
  const fragment = cluster(1).fragment;
  out.push({
    policy: "TierSet.place (fastest-fit, views and checks)",
    input: "1 node x 4 tiers",
    perSecond: rate(() => tierSet.place({ ...fragment, byteLength: 1 << 20, durable: false })),
  });
  const tiers: SpillTier[] = [
    { name: "memory", capacity: 10_000 * 4096, used: 10_000 * 4096, persistent: false },
    { name: "file", capacity: 20_000 * 4096, used: 10_000 * 4096, persistent: true },
  ];
  const copies = (order: (i: number) => number): SpillCopy[] =>
    Array.from({ length: 20_000 }, (_, i) => ({
      key: `k${i}`,
      tier: i < 10_000 ? "memory" : "file",
      byteLength: 4096,
      lastUse: order(i),
      durable: i % 2 === 0,
      alsoOn: [],
    }));
  const inOrder = copies((i) => i);
  const lanes = new Map(["memory", "file"].map((t) => [t, inOrder.filter((c) => c.tier === t)]));
  const shuffled = copies((i) => (i * 7919) % 20_000);
  out.push({
    policy: "planSpill (free 1 MiB), each tier's copies read in LRU order, as TierSet gives them",
    input: "20 000 copies on 2 tiers",
    perSecond: rate(() =>
      planSpill({ tiers, copies: (t) => lanes.get(t) ?? [], tier: "memory", bytes: 1 << 20 })
    ),
  }, {
    policy: "planSpill (free 1 MiB), a list in random order (sorted per plan)",
    input: "20 000 copies on 2 tiers",
    perSecond: rate(() => planSpill({ tiers, copies: shuffled, tier: "memory", bytes: 1 << 20 })),
  });
  for (const count of [1_000, 10_000]) {
    out.push({
      policy: "TierSet.store of 4 KiB into a full memory tier (each spills one copy)",
      input: `${count.toLocaleString("en")} copies in the fast tier`,
      perSecond: await spillingStores(count),
    });
  }
  return out;
}

/** The results as a Markdown report. */
export function formatTiers(r: TiersBenchResult): string {
  const m = r.machine;
  const lines = [
    "# Tier benchmark",
    "",
    `${m.date}, Deno ${m.deno} (V8 ${m.v8}), ${m.build.target}, ${m.hardwareConcurrency} CPUs.`,
    `Best of ${r.repetitions} runs after a warm-up. GB/s = payload bytes stored (put) or read (get)`,
    "per second, 1 GB = 1e9 bytes; memcpy is `Uint8Array.prototype.set` of the same bytes in the",
    "same run. file and backing puts are flushed to the device (`fdatasync`) before they count;",
    "shm puts are not. The memory tier keeps the buffer it is handed: its put and get copy nothing,",
    "so only their time per operation means anything.",
    "",
    "| tier | copy | put µs | get µs | put GB/s | get GB/s | memcpy GB/s | put / memcpy | get / memcpy | bytes back |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...r.tiers.map((t) => {
      const ratio = (x: number) => t.copies ? `${x.toFixed(2)}x` : "-";
      const rate = (x: number) => t.copies ? x.toFixed(2) : "-";
      return `| ${t.tier}${t.copies ? "" : " (keeps the buffer)"} | ${mib(t.bytes)} | ${
        t.putUs.toFixed(1)
      } | ${t.getUs.toFixed(1)} | ${rate(t.putGBs)} | ${rate(t.getGBs)} | ${
        t.memcpyGBs.toFixed(2)
      } | ${ratio(t.putVsMemcpy)} | ${ratio(t.getVsMemcpy)} | ${t.verified ? "yes" : "NO"} |`;
    }),
    "",
    "Placement decisions and spill plans per second (pure logic, one core):",
    "",
    "| policy | input | per second |",
    "| --- | --- | ---: |",
    ...r.policies.map((p) =>
      `| ${p.policy} | ${p.input} | ${Math.round(p.perSecond).toLocaleString("en")} |`
    ),
    "",
  ];
  return lines.join("\n");
}

function mib(bytes: number): string {
  return `${bytes / (1 << 20)} MiB`;
}

/**
 * Runs the tier benchmark, prints its table, and writes
 * `bench/results/tiers.json` and `bench/results/tiers.md`.
 */
export async function tiersBench(): Promise<TiersBenchResult> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "tiers_bench_" });
  const capacity = 2 * SIZES.at(-1)!;
  const results: TierResult[] = [];
  const shm = await shmTier(dir, capacity);
  try {
    const tiers: [string, Tier][] = [
      ["memory", new MemoryTier("memory", capacity)],
      [shm.where, shm.tier],
      ["file", await FileTier.open("file", `${dir}/file`, capacity)],
      ["backing", await BackingTier.open("backing", `${dir}/backing`, capacity)],
    ];
    for (const [name, tier] of tiers) {
      for (const bytes of SIZES) results.push(await measureTier(name, tier, bytes));
    }
    const tierSet = new TierSet({
      node: "n0",
      tiers: [{
        tier: new MemoryTier("memory", capacity),
        spec: { name: "memory", kind: "memory", capacity, ...KIND_DEFAULTS.memory },
      }],
    });
    const policies = await policyRates(tierSet);
    const result: TiersBenchResult = {
      machine: {
        date: new Date().toISOString(),
        deno: Deno.version.deno,
        v8: Deno.version.v8,
        build: Deno.build,
        hardwareConcurrency: navigator.hardwareConcurrency,
      },
      repetitions: REPS,
      tiers: results,
      policies,
    };
    const report = formatTiers(result);
    console.log(report);
    await writeResultFiles("tiers", result, report);
    return result;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await tiersBench();
