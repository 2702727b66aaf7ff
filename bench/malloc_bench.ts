/**
 * What the C library allocator's settings (src/cli/malloc_tunables.ts) are
 * worth: fresh buffers of 1, 8 and 32 MiB allocated and filled in a child
 * process started with glibc's defaults and with Strata's settings, next
 * to filling memory already touched (the machine's limit); then HEPnOS
 * storing and loading 1 MiB products through one `strata serve` started
 * each way, its client too. Writes bench/results/malloc.{json,md}.
 *
 * @module
 */

import { writeResults } from "./_results.ts";
import type { FreshBuffers } from "./_fresh_buffers.ts";
import type { WorkerArgs, WorkerTimes } from "./_hepnos_worker.ts";
import { runClients } from "./services_bench.ts";
import { MALLOC_TUNABLES } from "../src/cli/malloc_tunables.ts";
import { spawnStrata } from "../tests/_cluster.ts";

/** One measured point. */
export interface MallocPoint {
  /** `buffers` (fresh buffers in a bare process) or `hepnos` (1 MiB products). */
  readonly kind: "buffers" | "hepnos";
  /** `default` (glibc's defaults) or `strata` (`MALLOC_TUNABLES`). */
  readonly settings: "default" | "strata";
  /** Buffer or product size in MiB. */
  readonly mib: number;
  /** buffers: ms per MiB allocating and filling new buffers (median of the runs). */
  readonly freshMsPerMiB?: number;
  /** buffers: ms per MiB filling a buffer already touched. */
  readonly reusedMsPerMiB?: number;
  /** hepnos: products stored per second (best run). */
  readonly storesPerS?: number;
  /** hepnos: products loaded per second (best run). */
  readonly loadsPerS?: number;
}

const SETTINGS = { default: "", strata: MALLOC_TUNABLES } as const;
const RUNS = 3;
/** HEPnOS products stored and loaded per run. */
const EVENTS = 128;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function buffers(mib: number, tunables: string): Promise<FreshBuffers> {
  const count = Math.max(4, Math.floor(256 / mib));
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      "bench/_fresh_buffers.ts",
      String(mib),
      String(count),
      String(Math.max(1, count >> 2)),
    ],
    env: { GLIBC_TUNABLES: tunables },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("The fresh buffers child failed");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function hepnos(url: string, tunables: string): Promise<WorkerTimes> {
  const args: Omit<WorkerArgs, "client"> = {
    system: "strata",
    mode: "batched",
    where: url,
    events: EVENTS,
    bytes: 1 << 20,
  };
  return runClients(args, 1, { GLIBC_TUNABLES: tunables });
}

/** Runs the benchmark and writes its results. */
export async function mallocBench(): Promise<MallocPoint[]> {
  const points: MallocPoint[] = [];
  for (const mib of [1, 8, 32]) {
    const runs = { default: [] as FreshBuffers[], strata: [] as FreshBuffers[] };
    // The settings take turns, so a slow spell of the machine falls on both.
    for (let r = 0; r < RUNS; r++) {
      for (const s of ["default", "strata"] as const) runs[s].push(await buffers(mib, SETTINGS[s]));
    }
    for (const s of ["default", "strata"] as const) {
      const p: MallocPoint = {
        kind: "buffers",
        settings: s,
        mib,
        freshMsPerMiB: median(runs[s].map((b) => b.freshMsPerMiB)),
        reusedMsPerMiB: median(runs[s].map((b) => b.reusedMsPerMiB)),
      };
      points.push(p);
      console.log(JSON.stringify(p));
    }
  }
  const servers = {
    default: await spawnStrata(["serve"], { extra: HEPNOS, tunables: SETTINGS.default }),
    strata: await spawnStrata(["serve"], { extra: HEPNOS, tunables: SETTINGS.strata }),
  };
  try {
    const best = { default: [Infinity, Infinity], strata: [Infinity, Infinity] };
    for (let r = 0; r < RUNS; r++) {
      for (const s of ["default", "strata"] as const) {
        const t = await hepnos(servers[s].url, SETTINGS[s]);
        best[s] = [Math.min(best[s][0]!, t.storeS), Math.min(best[s][1]!, t.loadS)];
      }
    }
    for (const s of ["default", "strata"] as const) {
      const p: MallocPoint = {
        kind: "hepnos",
        settings: s,
        mib: 1,
        storesPerS: Math.round(EVENTS / best[s][0]!),
        loadsPerS: Math.round(EVENTS / best[s][1]!),
      };
      points.push(p);
      console.log(JSON.stringify(p));
    }
  } finally {
    await servers.default.stop();
    await servers.strata.stop();
  }
  await writeResults("malloc", points, (m) => markdown(points, m));
  return points;
}

const HEPNOS = "services:\n  hepnos: { targets: 8, options: { overwrite: true } }\n";

function markdown(points: readonly MallocPoint[], machine: string): string {
  const of = (kind: string, s: string, mib: number) =>
    points.find((p) => p.kind === kind && p.settings === s && p.mib === mib)!;
  const rows = [1, 8, 32].map((mib) => {
    const d = of("buffers", "default", mib);
    const s = of("buffers", "strata", mib);
    return `| ${mib} MiB | ${d.freshMsPerMiB!.toFixed(3)} | ${s.freshMsPerMiB!.toFixed(3)} | ${
      (d.freshMsPerMiB! / s.freshMsPerMiB!).toFixed(1)
    }x | ${s.reusedMsPerMiB!.toFixed(3)} |`;
  });
  const hd = of("hepnos", "default", 1);
  const hs = of("hepnos", "strata", 1);
  return `# Allocator settings

${machine}

Strata's processes start with \`GLIBC_TUNABLES=${MALLOC_TUNABLES}\`
(src/cli/malloc_tunables.ts): the allocator's memory advised for transparent huge pages, blocks up
to 32 MiB taken from the heap and reused after they are freed, up to 256 MiB of free memory kept.

## Fresh buffers

A child process allocates buffers and fills each once, keeping the last quarter of them alive (256
MiB in all); ms per MiB, median of ${RUNS} runs, the two settings taking turns. The last column is
the same fill into memory already touched: the machine's limit.

| buffer | glibc's defaults ms/MiB | Strata's settings ms/MiB | gain | memory already touched ms/MiB |
| -----: | ----------------------: | -----------------------: | ---: | ----------------------------: |
${rows.join("\n")}

## HEPnOS, 1 MiB products

One \`strata serve\` per setting (8 targets), one client process started the same way, ${EVENTS}
products stored in write batches (8 per request, 4 requests in flight) and loaded back in batches;
products per second, the best of ${RUNS} runs, the two servers taking turns.

| settings | stored/s | loaded/s |
| :------- | -------: | -------: |
| glibc's defaults | ${hd.storesPerS} | ${hd.loadsPerS} |
| Strata's | ${hs.storesPerS} | ${hs.loadsPerS} |
`;
}

if (import.meta.main) await mallocBench();
