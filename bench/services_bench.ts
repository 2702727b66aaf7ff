/**
 * HEPnOS on Strata against files per subrun, in the same run: events
 * created, products stored and products loaded per second, one request per
 * operation and batched, from 1 to 16 client processes, for products of
 * 100 B to 1 MiB. Two file baselines: `files-sync`, each file fsync'd
 * before its create or store counts (what Strata guarantees when it
 * answers: its KV commit and a blob's bytes are fsync'd), and `files`, left
 * in the page cache. Writes bench/results/services.{json,md}.
 *
 * @module
 */

import { writeResults } from "./_results.ts";
import type { WorkerArgs, WorkerTimes } from "./_hepnos_worker.ts";
import { spawnStrata } from "../tests/_cluster.ts";

/** One measured point. */
export interface ServicesPoint {
  /** `strata`, `files-sync` (each file fsync'd) or `files` (page cache only). */
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
          for (const system of ["strata", "files-sync", "files"] as const) {
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
            if (system !== "strata") await Deno.remove(where, { recursive: true });
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

/** The goal: Strata at this many times the file baseline. */
const GOAL = 10;

function markdown(points: readonly ServicesPoint[], machine: string): string {
  const table = (baseline: string) => {
    const rows = [];
    for (const s of points.filter((p) => p.system === "strata")) {
      const f = points.find((p) =>
        p.system === baseline && p.mode === s.mode && p.clients === s.clients &&
        p.bytes === s.bytes
      )!;
      const cell = (a: number, b: number) =>
        `${a} / ${b} (${(a / b).toFixed(2)}x ${a / b >= GOAL ? "met" : "short"})`;
      rows.push(
        `| ${s.bytes} | ${s.mode} | ${s.clients} | ${cell(s.createsPerS, f.createsPerS)} | ${
          cell(s.storesPerS, f.storesPerS)
        } | ${cell(s.loadsPerS, f.loadsPerS)} |`,
      );
    }
    return `| product bytes | mode | clients | events created | products stored | products loaded |
| ------------- | ---- | ------- | -------------- | --------------- | --------------- |
${rows.join("\n")}`;
  };
  return `# HEPnOS on Strata against files per subrun

${machine}

Operations per second, all client processes together: Strata / files (ratio, goal ${GOAL}x: met or
short). One \`strata serve\` with 8 targets, durable (a create or a store is answered once its KV
commit is fsync'd; a product past 60 KiB is a blob whose bytes are written to the memory tier and
fsync'd to the file tier before the record naming it commits). Small products are answered from the
service's memory cache once stored.

## Against files fsync'd like Strata's writes

Each event is an empty file, each product a file, each fsync'd before the operation counts (a
batch's files written and fsync'd concurrently); loads read the files back. The same durability on
both sides.

${table("files-sync")}

## Against files left in the page cache

The same files, written without a sync: a process crash keeps them, a power loss may not.

${table("files")}

## What limits the figures short of the goal

- Single operations: one HTTP request per create, store or load (about 0.2 ms for a bare request on
  loopback, 0.4 to 1 ms through the service) against one system call; a page-cache read takes tens
  of microseconds, so single loads stay far below 10x, and single creates and stores are bounded by
  the request and one KV commit each.
- Products stored: every product is a row of the registry's Deno KV (SQLite), a few tens of
  microseconds each in one writer, with at most 100 put-if-absent checks per commit; 1 MiB
  products travel the HTTP body (about 1 ms per MiB on loopback, read into one buffer), are written
  to the file tier and fsync'd, then their record commits: the same bytes to disk as the files, plus
  the transfer.
- Products loaded in batches: one request and one framed answer per 128 products (8 per request for
  1 MiB), the answer built from memory, against 128 concurrent page-cache reads.
- Two cores shared by the server, up to 16 client processes, the file baselines and other work:
  figures move by up to 2x between runs.
`;
}

if (import.meta.main) await servicesBench();
