/**
 * HEPnOS on Strata against files per subrun, in the same run: events
 * created, products stored and products loaded per second, one request per
 * operation and batched, from 1 to 16 client processes, for products of
 * 100 B to 1 MiB. Writes bench/results/services.{json,md}.
 *
 * @module
 */

import { writeResults } from "./_results.ts";
import type { WorkerArgs, WorkerTimes } from "./_hepnos_worker.ts";
import { spawnStrata } from "../tests/_cluster.ts";

/** One measured point. */
export interface ServicesPoint {
  /** `strata` or `files`. */
  readonly system: string;
  /** `single` or `batched`. */
  readonly mode: string;
  /** Client processes. */
  readonly clients: number;
  /** Bytes per product. */
  readonly bytes: number;
  /** Events created per second, all clients. */
  readonly createsPerS: number;
  /** Products stored per second. */
  readonly storesPerS: number;
  /** Products loaded per second. */
  readonly loadsPerS: number;
}

const SIZES = [100, 10_000, 1 << 20];
const CLIENTS = [1, 4, 16];

function eventsFor(bytes: number, clients: number, mode: string): number {
  const budget = bytes >= 1 << 20 ? 64 : mode === "single" ? 2000 : 8000;
  return Math.max(8, Math.floor(budget / clients));
}

async function runClients(args: Omit<WorkerArgs, "client">, clients: number): Promise<WorkerTimes> {
  const procs = [...Array(clients).keys()].map((client) =>
    new Deno.Command("deno", {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        "--allow-read=tmp",
        "--allow-write=tmp",
        "bench/_hepnos_worker.ts",
        JSON.stringify({ ...args, client }),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output()
  );
  const outs = await Promise.all(procs);
  const times = outs.map((o) => {
    if (!o.success) throw new Error("A benchmark client failed");
    return JSON.parse(new TextDecoder().decode(o.stdout)) as WorkerTimes;
  });
  // Clients run side by side: the rate is all their operations over the slowest client's time.
  const max = (k: keyof WorkerTimes) => Math.max(...times.map((t) => t[k]));
  return { createS: max("createS"), storeS: max("storeS"), loadS: max("loadS") };
}

/** Runs the benchmark and writes its results. */
export async function servicesBench(): Promise<ServicesPoint[]> {
  const server = await spawnStrata(["serve"], {
    extra: "services:\n  hepnos: { targets: 8, options: { overwrite: true } }\n",
  });
  const points: ServicesPoint[] = [];
  try {
    for (const bytes of SIZES) {
      for (const mode of ["single", "batched"] as const) {
        for (const clients of CLIENTS) {
          const events = eventsFor(bytes, clients, mode);
          for (const system of ["strata", "files"] as const) {
            const where = system === "strata"
              ? server.url
              : await Deno.makeTempDir({ dir: "tmp", prefix: "files_baseline_" });
            const t = await runClients({ system, mode, where, events, bytes }, clients);
            const n = events * clients;
            const p = {
              system,
              mode,
              clients,
              bytes,
              createsPerS: Math.round(n / t.createS),
              storesPerS: Math.round(n / t.storeS),
              loadsPerS: Math.round(n / t.loadS),
            };
            points.push(p);
            console.log(JSON.stringify(p));
            if (system === "files") await Deno.remove(where, { recursive: true });
          }
        }
      }
    }
  } finally {
    await server.stop();
  }
  await writeResults("services", points, (m) => markdown(points, m));
  return points;
}

function markdown(points: readonly ServicesPoint[], machine: string): string {
  const rows = [];
  for (const s of points.filter((p) => p.system === "strata")) {
    const f = points.find((p) =>
      p.system === "files" && p.mode === s.mode && p.clients === s.clients && p.bytes === s.bytes
    )!;
    const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    rows.push(
      `| ${s.bytes} | ${s.mode} | ${s.clients} | ${s.createsPerS} / ${f.createsPerS} (${
        x(s.createsPerS, f.createsPerS)
      }) | ${s.storesPerS} / ${f.storesPerS} (${
        x(s.storesPerS, f.storesPerS)
      }) | ${s.loadsPerS} / ${f.loadsPerS} (${x(s.loadsPerS, f.loadsPerS)}) |`,
    );
  }
  return `# HEPnOS on Strata against files per subrun

${machine}

Operations per second, all client processes together: Strata / files (ratio). Goal: 10x.

| product bytes | mode | clients | events created | products stored | products loaded |
| ------------- | ---- | ------- | -------------- | --------------- | --------------- |
${rows.join("\n")}
`;
}

if (import.meta.main) await servicesBench();
