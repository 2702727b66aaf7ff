/**
 * Versions committed per second into one dataset, in process (no HTTP), on
 * a KV file on disk under ./tmp: producers publish whole versions (each
 * publish completes and commits its version) with 1 to 256 publishes in
 * flight, and versions of 4 ranks' blocks; next to the raw Deno KV rate of
 * single-mutation commits on the same disk in the same run, the ceiling of
 * one KV commit per version in sequence. Every answer is durable (its
 * atomic committed before the publisher was answered). Then 4 rank loops in
 * this process, each with its blocks in flight as a rank process has them,
 * straight into a registry, the same keeping the name server's release
 * notices, and through the name server's routes without a socket (what the
 * runs of rank processes cost without the processes and the network). Then over HTTP to one name server (`strata nameserver`):
 * whole versions from one producer process, and the 4 ranks as 4
 * processes.
 *
 * Run: `deno task bench commits`, or `deno run --allow-read=. --allow-write=./tmp,./bench/results
 * --allow-net=127.0.0.1 --allow-run=deno --allow-env=LOG_TOKENS,LOG_STREAM bench/commit_bench.ts [seconds]`
 *
 * @module
 */

import { RemoteNameService } from "../src/cluster/name_client.ts";
import { openRegistry } from "../src/registry/mod.ts";
import { startNameserver } from "../tests/_cluster.ts";
import { createApp } from "../src/api/app.ts";
import { NodeBook } from "../src/cluster/node_book.ts";
import { ReleaseLog } from "../src/cluster/release_log.ts";
import { processMetrics } from "../src/observe/mod.ts";
import { writeResults } from "./_results.ts";

const SECONDS = import.meta.main ? Number(Deno.args[0] ?? 2) : 2;
const IN_FLIGHT = [1, 16, 64, 256];
const DESCRIPTION =
  "dataset steps { var x [4, 4]float64 }\nfragment rank(r) { var x = x[r:r + 1, :] }";

interface Point {
  readonly shape: string;
  /** Committed versions the dataset keeps (older ones are retired by each commit). */
  readonly retention: number;
  readonly inFlight: number;
  readonly versionsPerSecond: number;
  /** Undefined over HTTP (the name server's atomics are not counted from here). */
  readonly versionsPerAtomic?: number;
  readonly kvCommitsPerSecond: number;
  /** The latest committed version at the end: every version published committed. */
  readonly latest: number;
  /** Seconds spent in the registry's KV atomic commits (the rank loops in process only). */
  readonly kvSeconds?: number;
  /** Over HTTP: versions/s of each run, ascending (`versionsPerSecond` is their median). */
  readonly runs?: readonly number[];
}

/** Runs of each point over HTTP (its processes share the 2 cores: rates move between runs). */
const HTTP_RUNS = 3;

/** Seconds spent in the registry's KV commits so far in this process (`strata_kv_commit_duration_seconds`). */
async function kvCommitSeconds(): Promise<number> {
  const text = await processMetrics.getSingleMetricAsString("strata_kv_commit_duration_seconds");
  return Number(/_sum(?:\{[^}]*\})? ([\d.e+-]+)$/m.exec(text)?.[1] ?? 0);
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "commit_bench_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Single-mutation KV commits per second, one at a time. */
async function kvCommits(): Promise<number> {
  return await withDir(async (dir) => {
    const kv = await Deno.openKv(`${dir}/raw.kv`);
    try {
      let n = 0;
      const start = performance.now();
      while (performance.now() - start < SECONDS * 1000) await kv.set(["k", n++], n);
      return n / ((performance.now() - start) / 1000);
    } finally {
      kv.close();
    }
  });
}

/**
 * `inFlight` producers take the next version number and publish it, whole
 * (`ranks` 1) or as 4 rank blocks published together, into a dataset that
 * keeps `retention` committed versions; versions/s.
 */
async function commitRate(
  inFlight: number,
  ranks: 1 | 4,
  retention: number,
  kv: number,
): Promise<Point> {
  return await withDir(async (dir) => {
    const reg = await openRegistry({ path: `${dir}/registry.kv` });
    try {
      await reg.createDataset({ name: "steps", description: DESCRIPTION, retention });
      let next = 1;
      let done = 0;
      const before = reg.stats.commits;
      const start = performance.now();
      const deadline = start + SECONDS * 1000;
      const publish = (version: number, r: number | undefined) =>
        reg.publishFragment({
          dataset: "steps",
          version,
          fragment: r === undefined ? "dataset" : "rank",
          bindings: r === undefined ? {} : { r },
          node: "n1",
          tier: "memory",
          byteLength: r === undefined ? 128 : 32,
          checksum: 0,
        });
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (performance.now() < deadline) {
          const version = next++;
          const results = ranks === 1
            ? [await publish(version, undefined)]
            : await Promise.all([0, 1, 2, 3].map((r) => publish(version, r)));
          if (!results.some((x) => x.committed)) {
            throw new Error(`Version ${version} did not commit`);
          }
          done++;
        }
      }));
      const seconds = (performance.now() - start) / 1000;
      const atomics = reg.stats.commits - before;
      return {
        shape: ranks === 1 ? "whole version per publish" : "4 rank blocks per version",
        retention,
        inFlight,
        versionsPerSecond: done / seconds,
        versionsPerAtomic: done / atomics,
        kvCommitsPerSecond: kv,
        latest: (await reg.attachFragments({
          dataset: "steps",
          version: "latest",
          fragment: "dataset",
          bindings: {},
        })).version,
      };
    } finally {
      await reg.drain();
      reg.close();
    }
  });
}

/**
 * What the runs of 4 rank processes cost, without the processes: 4 rank
 * loops in this process, each publishing its block of every version with
 * `inFlight` under way: straight into a registry (`registry`); the same
 * with the name server's release notices of retired blocks kept in KV as
 * `strata nameserver` keeps them (`notices`); or as a name server's
 * runtimes send them, one `/v1/cluster/publishes` request of up to
 * `inFlight` records under way per rank, handed to the name server's HTTP
 * routes in this process without a socket (`routes`, notices kept too).
 */
async function rankLoops(
  inFlight: number,
  through: "registry" | "notices" | "routes",
  kv: number,
): Promise<Point> {
  return await withDir(async (dir) => {
    const reg = await openRegistry({ path: `${dir}/registry.kv` });
    const releases = await ReleaseLog.open(reg.kv, { committer: reg.committer });
    if (through !== "registry") reg.onRelease((copies) => releases.push(copies));
    const app = createApp({
      maxBodyBytes: 1 << 20,
      cluster: { registry: reg, releases, nodes: new NodeBook(reg) },
    });
    try {
      await reg.createDataset({ name: "steps", description: DESCRIPTION, retention: 2 });
      const record = (version: number, r: number) => ({
        dataset: "steps",
        version,
        fragment: "rank",
        bindings: { r },
        node: `rank-${r}`,
        tier: "memory",
        byteLength: 32,
        checksum: 0,
      });
      const before = reg.stats.commits;
      const kvBefore = await kvCommitSeconds();
      const start = performance.now();
      await Promise.all([0, 1, 2, 3].map(async (r) => {
        let next = 1;
        if (through !== "routes") {
          await Promise.all(Array.from({ length: inFlight }, async () => {
            while (next <= HTTP_VERSIONS) await reg.publishFragment(record(next++, r));
          }));
          return;
        }
        for (let seq = 1; next <= HTTP_VERSIONS; seq++) {
          const n = Math.min(inFlight, HTTP_VERSIONS - next + 1);
          const records = Array.from({ length: n }, (_, k) => record(next + k, r));
          next += n;
          const res = await app.fetch(
            new Request(`http://nameserver/v1/cluster/publishes?session=rank-${r}&seq=${seq}`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ records }),
            }),
          );
          const body = await res.json() as { results: { committed?: boolean }[] };
          if (!res.ok || body.results.some((x) => x.committed === undefined)) {
            throw new Error(`A publish failed: ${JSON.stringify(body).slice(0, 200)}`);
          }
        }
      }));
      const seconds = (performance.now() - start) / 1000;
      return {
        shape: through === "registry"
          ? "4 rank loops in process, straight into the registry"
          : through === "notices"
          ? "4 rank loops in process, into the registry, release notices kept"
          : "4 rank loops in process, through the name server's routes",
        retention: 2,
        inFlight,
        versionsPerSecond: HTTP_VERSIONS / seconds,
        versionsPerAtomic: HTTP_VERSIONS / (reg.stats.commits - before),
        kvCommitsPerSecond: kv,
        latest: (await reg.describeDataset("steps")).latest ?? 0,
        kvSeconds: await kvCommitSeconds() - kvBefore,
      };
    } finally {
      await releases.drain();
      releases.close();
      await reg.drain();
      reg.close();
    }
  });
}

/** Versions each rank process publishes over HTTP. */
const HTTP_VERSIONS = 40_000;

/**
 * Versions published over HTTP to one name server: whole by one producer
 * process (`processes` 1), or as the same 4 rank blocks per version from 4
 * processes, each publishing its rank's block of every version (as the
 * runtime of each rank registers its copies); `inFlight` at a time each;
 * the clock starts once every process is loaded.
 */
async function httpRate(processes: 1 | 4, inFlight: number, kv: number): Promise<Point> {
  const ns = await startNameserver();
  const names = new RemoteNameService({ urls: [ns.url], node: "bench" });
  try {
    await names.createDataset({ name: "steps", description: DESCRIPTION, retention: 2 });
    const ranks = (processes === 1 ? ["whole"] : ["0", "1", "2", "3"]).map((r) =>
      new Deno.Command("deno", {
        args: [
          "run",
          "--allow-net=127.0.0.1",
          "bench/_rank_publisher.ts",
          ns.url,
          "steps",
          r,
          String(HTTP_VERSIONS),
          String(inFlight),
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn()
    );
    for (const p of ranks) {
      const line = await p.stdout.pipeThrough(new TextDecoderStream()).getReader().read();
      if (!line.value?.startsWith("ready")) throw new Error("A rank process did not start");
    }
    const start = performance.now();
    for (const p of ranks) {
      const go = p.stdin.getWriter();
      await go.write(new TextEncoder().encode("go\n"));
      await go.close();
    }
    const statuses = await Promise.all(ranks.map((p) => p.status));
    const seconds = (performance.now() - start) / 1000;
    if (!statuses.every((s) => s.success)) throw new Error("A rank process failed");
    return {
      shape: processes === 1
        ? "1 producer process over HTTP, whole versions"
        : "4 rank processes over HTTP",
      retention: 2,
      inFlight,
      versionsPerSecond: HTTP_VERSIONS / seconds,
      kvCommitsPerSecond: kv,
      latest: (await names.describeDataset("steps")).latest ?? 0,
    };
  } finally {
    names.close();
    await ns.stop();
  }
}

/**
 * Versions committed per second into one dataset: writes
 * bench/results/commits.{md,json}.
 */
export async function commitBench(): Promise<void> {
  const kv = await kvCommits();
  const points: Point[] = [];
  // Keeping 2 versions, most versions of a burst are committed and retired
  // in one atomic; keeping 1,024, each commit removes the durable records
  // of a version committed in an earlier atomic.
  const shapes = [[1, 2], [4, 2], [4, 1024]] as const;
  for (const [ranks, retention] of shapes) {
    for (const n of IN_FLIGHT) {
      const p = await commitRate(n, ranks, retention, kv);
      points.push(p);
      console.error(
        `${p.shape}, ${retention} kept, ${n} in flight: ${
          p.versionsPerSecond.toFixed(0)
        } versions/s, ${p.versionsPerAtomic?.toFixed(1)} per atomic`,
      );
    }
  }
  for (const through of ["registry", "notices", "routes"] as const) {
    for (const n of [16, 64, 256]) {
      const p = await rankLoops(n, through, kv);
      points.push(p);
      console.error(
        `${p.shape}, ${n} in flight each: ${p.versionsPerSecond.toFixed(0)} versions/s`,
      );
    }
  }
  for (
    const [processes, n] of [[1, 64], [1, 256], [4, 16], [4, 64], [4, 128], [4, 256]] as const
  ) {
    const runs: Point[] = [];
    for (let r = 0; r < HTTP_RUNS; r++) runs.push(await httpRate(processes, n, kv));
    const rates = runs.map((p) => p.versionsPerSecond).sort((a, b) => a - b);
    const p = { ...runs[0]!, versionsPerSecond: rates[(rates.length - 1) >> 1]!, runs: rates };
    points.push(p);
    console.error(
      `${p.shape}, ${n} in flight each: ${p.versionsPerSecond.toFixed(0)} versions/s (runs ${
        rates.map((r) => r.toFixed(0)).join(", ")
      })`,
    );
  }

  await writeResults("commits", points, (machineLine) => {
    const rows = points.map((p) =>
      `| ${p.shape} | ${p.retention} | ${p.inFlight} | ${Math.round(p.versionsPerSecond)}${
        p.runs === undefined ? "" : ` (${Math.round(p.runs[0]!)}-${Math.round(p.runs.at(-1)!)})`
      } | ${p.versionsPerAtomic?.toFixed(1) ?? "-"} | ${
        (p.versionsPerSecond / p.kvCommitsPerSecond).toFixed(1)
      }x | ${p.kvSeconds?.toFixed(2) ?? "-"} |`
    );
    return [
      "# Versions committed per second, one dataset",
      "",
      machineLine,
      "",
      `In process (no HTTP; the last rows: one producer process, or 4 rank processes, publishing ${HTTP_VERSIONS} versions over HTTP to one name server, versions in flight per process; each such row the median of ${HTTP_RUNS} runs, their range in brackets), a KV file on disk; every publish answered once durable. The rows of 4 rank loops in process publish ${HTTP_VERSIONS} versions as the 4 rank processes do, each loop its block of every version with as many in flight: straight into the registry; the same with the release notices of retired blocks kept in KV, as \`strata nameserver\` keeps them; or through the name server's HTTP routes in this process without a socket (one request of up to that many publishes under way per rank, as a runtime sends them; notices kept); their last column: the seconds spent in the registry's KV atomic commits during the row's run. Raw Deno KV in the same run: ${
        Math.round(kv)
      } single-mutation commits/s (the ceiling of one commit per version in sequence). Goal: 20 000 versions/s per dataset.`,
      "",
      "| publishes | versions kept | versions in flight | versions/s | versions per atomic | vs raw KV commits/s | s in KV commits |",
      "| --------- | ------------: | -----------------: | ---------: | ------------------: | ------------------: | --------------: |",
      ...rows,
      "",
    ].join("\n");
  });
}

if (import.meta.main) await commitBench();
