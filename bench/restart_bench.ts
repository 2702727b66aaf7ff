/**
 * The talk's checkpoint/restart figure at this machine's scale, next to
 * files in the same run. A 2-D float64 field (512 MiB by default) is
 * checkpointed by 16 writer ranks as row bands, then restarted by 16, 8
 * and 4 reader ranks, each reading its own 2-D block:
 *
 * - Strata: a durable dataset on three runtime processes (copies in an
 *   shm tier, files on a tmpfs, and fsync'd file copies). Writers on the
 *   runtimes' node publish through the shm tier (`publish(..., { via:
 *   "shm" })`: each writes its band into a file the runtime stages there,
 *   which the shm tier takes by renaming it and the file tier copies in
 *   the kernel and flushes). Readers on the runtimes' node (processes with
 *   the Python client, bench/python/restart_map.py) map the band copies in
 *   the shm tiers, one request per runtime (`map_parts`), and read their
 *   blocks in place, the zero-copy path, with the page cache dropped and
 *   warm; readers anywhere attach over HTTP into buffers they own, bands
 *   crossing the data plane;
 * - POSIX files, file per rank, fsync'd, read with `preadv` per block row
 *   with the page cache dropped (when root) and warm;
 * - HDF5 (h5py) file per rank, the same way.
 *
 * File ranks are processes (bench/python/restart_files.py); Strata writer
 * and HTTP reader ranks are concurrent clients in this process. Repeated
 * runs, medians. Then
 * the SNAP-like figure: a compute loop over the field that checkpoints
 * every 4 or 16 steps, its time against the same loop with no checkpoint,
 * checkpointing through Strata and through files, durable at each
 * checkpoint, durable behind the loop (Strata's flush, the files'
 * fdatasync), or never durable (the runtimes' memory, the page cache).
 *
 * Run: `deno task bench restart`, or this file with the bench task's
 * permissions: `[MiB] [runs]`.
 *
 * @module
 */

import { median } from "./wrk_bench.ts";
import { writeResults } from "./_results.ts";
import { connect } from "../src/client/mod.ts";
import { type Proc, startNameserver, startRuntime } from "../tests/_cluster.ts";

/** One measured phase, over the runs. */
export interface RestartPoint {
  /** What was measured. */
  readonly system: "strata" | "posix" | "hdf5";
  /**
   * `checkpoint` (16 writers), `restart cold` (page cache dropped), `restart warm`,
   * or, for Strata, `restart HTTP cold` / `restart HTTP warm` (attached over HTTP).
   * Strata's cold and warm restarts map the shm tiers' copies in place.
   */
  readonly phase:
    | "checkpoint"
    | "restart cold"
    | "restart warm"
    | "restart HTTP cold"
    | "restart HTTP warm";
  /** Ranks. */
  readonly ranks: number;
  /** Field bytes moved per run. */
  readonly bytes: number;
  /** GB/s (1e9 bytes) of each run. */
  readonly runs: readonly number[];
  /** Median of the runs. */
  readonly gbs: number;
  /** Whether every value checked was the one written, in every run. */
  readonly verified: boolean;
}

/**
 * How the SNAP-like loop checkpoints: durable at each checkpoint (`strata`,
 * `posix`: fsync'd files), durable behind the loop (Strata's flush, the
 * files' fdatasync, each done before the next checkpoint and the loop's
 * end), or never durable (the runtimes' memory, the page cache).
 */
export const SNAP_WAYS = [
  "strata",
  "posix",
  "strata behind",
  "posix behind",
  "strata memory",
  "posix page cache",
] as const;

/** The SNAP-like loop's outcome. */
export interface SnapPoint {
  /** How checkpoints are written (`none`: the loop alone). */
  readonly via: "none" | typeof SNAP_WAYS[number];
  /** Steps between checkpoints. */
  readonly every: number;
  /** Steps of the loop (a checkpoint after every `every`). */
  readonly steps: number;
  /** Seconds for the whole loop. */
  readonly seconds: number;
  /** Time over the loop alone, as a fraction. */
  readonly overhead: number;
}

const MIB = import.meta.main ? Number(Deno.args[0] ?? 512) : 512;
const RUNS = import.meta.main ? Number(Deno.args[1] ?? 3) : 3;
/** Untimed checkpoints of every system before the timed runs. */
const WARMUP = 2;
const N = 16;
const READERS = [16, 8, 4];
const COLS = 8192;
const ROWS = MIB * 2 ** 20 / 8 / COLS;
const BAND = ROWS / N;
/**
 * The SNAP-like loops: 3 checkpoints each, every 4 steps (each checkpoint
 * about 4 steps' time to make durable on this machine's disk), then every
 * 16 (time enough for a checkpoint to become durable behind the loop).
 */
const SNAP_LOOPS = [{ every: 4, steps: 12 }, { every: 16, steps: 48 }] as const;
const DESCRIPTION = `dataset field { var t [${ROWS}, ${COLS}]float64 }
fragment band(r0, r1) { var t = t[r0:r1, :] }
fragment block(r0, r1, c0, c1) { var b = t[r0:r1, c0:c1] }`;

function band(k: number): Float64Array {
  const a = new Float64Array(BAND * COLS);
  for (let r = 0; r < BAND; r++) {
    const base = (k * BAND + r) * 10_000;
    for (let c = 0; c < COLS; c++) a[r * COLS + c] = base + c;
  }
  return a;
}

/**
 * The runtime band k is published through: contiguous groups of bands (0-5,
 * 6-10, 11-15), so a reader's block spans the bands of one or two runtimes
 * and maps them with one request to each.
 */
const writer = (k: number) => Math.floor(k * 3 / N);

/** Reader k's block among m: a grid of 4 block columns and m / 4 block rows. */
function block(k: number, m: number) {
  const h = ROWS / (m / 4);
  const w = COLS / 4;
  const r0 = Math.floor(k / 4) * h;
  const c0 = (k % 4) * w;
  return { r0, r1: r0 + h, c0, c1: c0 + w };
}

function check(bytes: Uint8Array, b: ReturnType<typeof block>): boolean {
  const v = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  const w = b.c1 - b.c0;
  for (let r = b.r0; r < b.r1; r += 7) {
    for (let c = b.c0; c < b.c1; c += 5) {
      if (v[(r - b.r0) * w + c - b.c0] !== r * 10_000 + c) return false;
    }
  }
  return true;
}

/** Drops the page cache when this process may (root); answers whether it did. */
async function dropCaches(): Promise<boolean> {
  const out = await new Deno.Command("sh", {
    args: ["-c", "sync && echo 3 > /proc/sys/vm/drop_caches"],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

/**
 * A tmpfs the runtimes' shm tiers live on. Deno opens nothing under /dev/shm
 * without `--allow-all`, so the benchmark wants one mounted for it, with
 * huge pages for files that fill them, so that mapped readers fault and miss
 * the TLB once per 2 MiB rather than per 4 KiB (as root: `mkdir -p
 * /mnt/strata-shm && mount -t tmpfs -o size=8g,huge=within_size tmpfs
 * /mnt/strata-shm`; docs/tiers.md).
 */
const SHM_MOUNT = "/mnt/strata-shm";

/** The runtimes' tiers: an shm tier on the tmpfs (mappable by readers of the node), fsync'd files. */
const tiers = (shm: string) =>
  `tiers:
  - name: shm
    kind: shm
    capacity: 8GiB
    path: ${shm}
  - name: file
    kind: file
    capacity: 64GiB
`;

/** The mount options of `mount`, from /proc/mounts. */
async function mountOptions(mount: string): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `grep ' ${mount} ' /proc/mounts | cut -d' ' -f4`],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

async function sh(script: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-c", script] }).output();
  if (!out.success) throw new Error(`sh -c '${script}' failed`);
}

/** Mapped readers on the runtimes' node: processes with the Python client. */
async function mapped(
  urls: readonly string[],
  version: number,
  ranks: number,
): Promise<{ seconds: number; verified: boolean }> {
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [
      "bench/python/restart_map.py",
      urls.join(","),
      "field",
      String(version),
      String(ROWS),
      String(COLS),
      String(ranks),
      Array.from({ length: N }, (_, k) => writer(k)).join(","),
    ],
    env: { PYTHONPATH: `${Deno.cwd()}/clients/python`, PYTHONNOUSERSITE: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("restart_map.py failed");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function python(
  mode: "write" | "read",
  format: "posix" | "h5",
  dir: string,
  ranks: number,
): Promise<{ seconds: number; verified: boolean }> {
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [
      "bench/python/restart_files.py",
      mode,
      format,
      dir,
      String(ROWS),
      String(COLS),
      String(ranks),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`restart_files.py ${mode} ${format} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * Runs the benchmark and writes bench/results/restart.{json,md,svg}.
 *
 * @example
 * ```ts ignore
 * import { restartBench } from "./restart_bench.ts";
 * const { points, snap } = await restartBench();
 * console.log(points.find((p) => p.system === "strata" && p.phase === "checkpoint"), snap);
 * ```
 */
export async function restartBench(): Promise<{ points: RestartPoint[]; snap: SnapPoint[] }> {
  const bytes = ROWS * COLS * 8;
  const gbs = (s: number) => bytes / s / 1e9;
  const samples = new Map<string, { runs: number[]; verified: boolean }>();
  const add = (system: string, phase: string, ranks: number, s: number, ok: boolean) => {
    const key = `${system}|${phase}|${ranks}`;
    const e = samples.get(key) ?? { runs: [], verified: true };
    e.runs.push(gbs(s));
    e.verified &&= ok;
    samples.set(key, e);
    console.error(`restart bench: ${system} ${phase} ${ranks} ranks ${gbs(s).toFixed(2)} GB/s`);
  };
  await Deno.mkdir("tmp", { recursive: true });
  const filesDir = await Deno.makeTempDir({ dir: "tmp", prefix: "restart-files-" });
  const shm = `${SHM_MOUNT}/restart-bench-${Deno.pid}`;
  const ns = await startNameserver();
  const procs: Proc[] = [ns];
  let dropped = false;
  const snap: SnapPoint[] = [];
  const warmups: { system: string; gbs: number }[] = [];
  try {
    await sh(`mountpoint -q ${SHM_MOUNT} && mkdir -p ${shm}/a ${shm}/b ${shm}/c`).catch((e) => {
      throw new Error(`Mount a tmpfs at ${SHM_MOUNT} first: the shm tiers live there`, {
        cause: e,
      });
    });
    const runtimes = await Promise.all(
      ["a", "b", "c"].map((n) =>
        startRuntime(n, [ns], { config: tiers(`${shm}/${n}`), paths: [`${shm}/${n}`] })
      ),
    );
    procs.push(...runtimes);
    const clients = runtimes.map((r) => connect(r.url));
    // The latest checkpoint is kept, as the files keep theirs (each run overwrites them).
    await clients[0]!.createDataset("field", DESCRIPTION, { durable: true, retention: 1 });
    const bands = Array.from({ length: N }, (_, k) => new Uint8Array(band(k).buffer));
    const into = new Map(
      READERS.map((m) => [m, Array.from({ length: m }, () => new Uint8Array(bytes / m))]),
    );
    // Strata: 16 writers publish their bands through the shm tiers, durable.
    const checkpoint = async (version: number) => {
      const t0 = performance.now();
      await publishBands(clients, bands, "field", version);
      return (performance.now() - t0) / 1000;
    };
    // Untimed checkpoints first, for every system: the first ones write into
    // memory this VM backs only when first touched (Strata keeps the last
    // version until the next one commits, so it takes two to reach its steady
    // state; files overwritten in place, one). Their figures are reported apart.
    for (let w = 0; w < WARMUP; w++) {
      warmups.push({ system: "strata", gbs: gbs(await checkpoint(w + 1)) });
      for (const format of ["posix", "h5"] as const) {
        const r = await python("write", format, filesDir, N);
        warmups.push({ system: format === "h5" ? "hdf5" : "posix", gbs: gbs(r.seconds) });
      }
    }
    for (let run = 0; run < RUNS; run++) {
      const version = WARMUP + run + 1;
      add("strata", "checkpoint", N, await checkpoint(version), true);
      let t0: number;
      for (const cold of [true, false]) {
        for (const m of READERS) {
          if (cold) dropped = await dropCaches();
          const r = await mapped(runtimes.map((p) => p.url), version, m);
          add("strata", `restart ${cold ? "cold" : "warm"}`, m, r.seconds, r.verified);
        }
      }
      for (const cold of [true, false]) {
        for (const m of READERS) {
          if (cold) dropped = await dropCaches();
          t0 = performance.now();
          const oks = await Promise.all(Array.from({ length: m }, async (_, k) => {
            const params = block(k, m);
            // Reader k talks to another runtime than the writer of its first band.
            const a = await clients[(writer(params.r0 / BAND) + 1) % 3]!.attach(
              "field",
              "block",
              { version, params, into: into.get(m)![k]! },
            );
            return check(a.bytes, params);
          }));
          add(
            "strata",
            `restart HTTP ${cold ? "cold" : "warm"}`,
            m,
            (performance.now() - t0) / 1000,
            oks.every(Boolean),
          );
        }
      }
      // The same blocks as file-per-rank POSIX files and HDF5 files, rank processes.
      for (const format of ["posix", "h5"] as const) {
        const system = format === "h5" ? "hdf5" : "posix";
        const w = await python("write", format, filesDir, N);
        add(system, "checkpoint", N, w.seconds, w.verified);
        for (const cold of [true, false]) {
          for (const m of READERS) {
            if (cold) dropped = await dropCaches();
            const r = await python("read", format, filesDir, m);
            add(system, `restart ${cold ? "cold" : "warm"}`, m, r.seconds, r.verified);
          }
        }
      }
    }
    for (const loop of SNAP_LOOPS) snap.push(...await snapLoop(clients, filesDir, bands, loop));
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await Deno.remove(filesDir, { recursive: true });
    await sh(`rm -rf ${shm}`);
  }
  const points: RestartPoint[] = [...samples].map(([key, e]) => {
    const [system, phase, ranks] = key.split("|") as [
      RestartPoint["system"],
      RestartPoint["phase"],
      string,
    ];
    return {
      system,
      phase,
      ranks: Number(ranks),
      bytes,
      runs: e.runs,
      gbs: median(e.runs),
      verified: e.verified,
    };
  });
  await write(points, snap, warmups, dropped, await mountOptions(SHM_MOUNT));
  return { points, snap };
}

/**
 * A SNAP-like loop: every step updates the whole field in place (a
 * memory-bound sweep); every `loop.every` steps the 16 bands are
 * checkpointed, each way of `SNAP_WAYS`. "At each checkpoint": the next
 * step starts once the checkpoint is durable. "Behind": the checkpoint is
 * taken (published to the runtimes' memory, or written to the page cache)
 * and made durable while the loop goes on (Strata's `flush` to the file
 * tier, the files' `fdatasync`); the next checkpoint, and the loop's end,
 * wait until the one before is durable, so every checkpoint is durable by
 * the time the loop's time is read. "In memory" and "page cache": never
 * made durable (the talk's RT/NS SNAP kept its checkpoints in the
 * runtimes' memory).
 */
async function snapLoop(
  clients: ReturnType<typeof connect>[],
  dir: string,
  bands: Uint8Array[],
  loop: { readonly every: number; readonly steps: number },
): Promise<SnapPoint[]> {
  const { every, steps } = loop;
  // Behind, version n + 1 is published while n may still be flushing: two kept.
  const datasets = {
    strata: `snap-${every}`,
    "strata memory": `snap-${every}-memory`,
    "strata behind": `snap-${every}-behind`,
  };
  await clients[0]!.createDataset(datasets.strata, DESCRIPTION, { durable: true, retention: 1 });
  await clients[0]!.createDataset(datasets["strata memory"], DESCRIPTION, { retention: 1 });
  await clients[0]!.createDataset(datasets["strata behind"], DESCRIPTION, { retention: 2 });
  const fields = bands.map((b) => new Float64Array(b.buffer));
  const step = () => {
    for (const f of fields) for (let i = 0; i < f.length; i++) f[i] = f[i]! * 0.999 + 1;
  };
  const publish = (dataset: string, n: number) => publishBands(clients, bands, dataset, n);
  // Each band written over its own file; the files are answered open, to sync or close.
  const writeFiles = () =>
    Promise.all(bands.map(async (b, k) => {
      const f = await Deno.open(`${dir}/snap-${k}.bin`, {
        write: true,
        create: true,
        truncate: true,
      });
      try {
        for (let done = 0; done < b.byteLength;) done += await f.write(b.subarray(done));
      } catch (e) {
        f.close();
        throw e;
      }
      return f;
    }));
  const syncAndClose = (files: Deno.FsFile[]) =>
    Promise.all(files.map(async (f) => {
      try {
        await f.syncData();
      } finally {
        f.close();
      }
    }));
  // The durability still under way, behind the loop (its failure is thrown where it is awaited).
  let behind: Promise<unknown> = Promise.resolve();
  const later = (p: Promise<unknown>) => {
    p.catch(() => {});
    behind = p;
  };
  const version = new Map<string, number>();
  const next = (dataset: string) => {
    const n = (version.get(dataset) ?? 0) + 1;
    version.set(dataset, n);
    return n;
  };
  const checkpoint: Record<SnapPoint["via"], () => Promise<unknown>> = {
    none: () => Promise.resolve(),
    strata: () => publish(datasets.strata, next(datasets.strata)),
    posix: async () => await syncAndClose(await writeFiles()),
    "strata memory": () => publish(datasets["strata memory"], next(datasets["strata memory"])),
    "posix page cache": async () => {
      for (const f of await writeFiles()) f.close();
    },
    "strata behind": async () => {
      await behind;
      const dataset = datasets["strata behind"];
      const n = next(dataset);
      await publish(dataset, n);
      // Each runtime writes the copies it holds to its file tier (fsync'd).
      later(Promise.all(clients.map((c) => c.flush(dataset, n, { tier: "file" }))));
    },
    "posix behind": async () => {
      await behind;
      later(syncAndClose(await writeFiles()));
    },
  };
  // Each loop runs twice in a row and its faster run counts: the first run of
  // each also pays for memory this machine hands out for the first time (the
  // VM backs guest pages on first touch), the second reuses what the first
  // freed. The loop alone runs first and last.
  const best = new Map<SnapPoint["via"], number>();
  const order = ["none", ...SNAP_WAYS.flatMap((w) => [w, w]), "none"] as const;
  for (const via of order) {
    const t0 = performance.now();
    for (let s = 1; s <= steps; s++) {
      step();
      if (s % every === 0) await checkpoint[via]();
    }
    await behind;
    const seconds = (performance.now() - t0) / 1000;
    best.set(via, Math.min(best.get(via) ?? Infinity, seconds));
    console.error(
      `restart bench: SNAP-like loop, every ${every} steps via ${via}: ${seconds.toFixed(2)} s`,
    );
  }
  const base = best.get("none")!;
  return (["none", ...SNAP_WAYS] as const).map((via) => ({
    via,
    every,
    steps,
    seconds: best.get(via)!,
    overhead: best.get(via)! / base - 1,
  }));
}

/** Each writer rank's band published as version `n` of `dataset`, through the shm tiers. */
function publishBands(
  clients: ReturnType<typeof connect>[],
  bands: readonly Uint8Array[],
  dataset: string,
  n: number,
): Promise<unknown> {
  return Promise.all(
    bands.map((b, k) =>
      clients[writer(k)]!.publish(dataset, n, "band", b, {
        params: { r0: k * BAND, r1: (k + 1) * BAND },
        via: "shm",
      })
    ),
  );
}

/** The goal of a phase, as a ratio to POSIX files of the same phase; undefined when it has none. */
function goalOf(phase: RestartPoint["phase"]): number | undefined {
  if (phase === "checkpoint" || phase === "restart warm") return 1;
  if (phase === "restart cold") return 1.5;
  return undefined;
}

async function write(
  points: RestartPoint[],
  snap: SnapPoint[],
  warmups: { system: string; gbs: number }[],
  dropped: boolean,
  shmOptions: string,
): Promise<void> {
  const at = (system: string, phase: string, ranks: number) =>
    points.find((p) => p.system === system && p.phase === phase && p.ranks === ranks);
  const cell = (p: RestartPoint | undefined) => p === undefined ? "-" : p.gbs.toFixed(2);
  const ratio = (a: RestartPoint | undefined, b: RestartPoint | undefined) =>
    a === undefined || b === undefined ? "-" : `${(a.gbs / b.gbs).toFixed(2)}x`;
  const phases: [RestartPoint["phase"], number][] = [
    ["checkpoint", N],
    ...(["restart cold", "restart warm", "restart HTTP cold", "restart HTTP warm"] as const)
      .flatMap((phase) => READERS.map((m) => [phase, m] as [RestartPoint["phase"], number])),
  ];
  const rows = phases.map(([phase, m]) => {
    const s = at("strata", phase, m);
    // Readers over HTTP stand next to files read the same way (cold or warm).
    const peer = phase.replace("HTTP ", "");
    const p = at("posix", peer, m);
    const h = at("hdf5", peer, m);
    const goal = goalOf(phase);
    const verdict = goal === undefined || s === undefined || p === undefined
      ? "-"
      : `>= ${goal}x: ${s.gbs >= goal * p.gbs ? "met" : "short"}`;
    return `| ${phase} | ${m} | ${cell(s)} | ${cell(p)} | ${cell(h)} | ${ratio(s, p)} | ${
      ratio(s, h)
    } | ${verdict} |`;
  });
  const runs = points.map((p) =>
    `| ${p.system} | ${p.phase} | ${p.ranks} | ${p.runs.map((x) => x.toFixed(2)).join(", ")} | ${
      p.verified ? "yes" : "NO"
    } |`
  );
  const allVerified = points.every((p) => p.verified);
  const warm = (system: string) =>
    warmups.filter((w) => w.system === system).map((w) => w.gbs.toFixed(2)).join(", ");
  await writeResults(
    "restart",
    [{ points, snap, warmups }],
    (machine) =>
      `# Checkpoint/restart benchmark

${machine}
A ${ROWS} x ${COLS} float64 field (${MIB} MiB): ${N} writer ranks checkpoint it as row bands, then
${READERS.join(", ")} reader ranks restart from 2-D blocks (4 block columns). ${RUNS} runs, medians,
GB/s of field bytes (1e9). All processes share the machine's cores.

Before the timed runs, each system checkpoints ${WARMUP} times untimed: the first checkpoints write
into memory that this VM backs only when it is first touched (Strata keeps the last version until
the next one commits, so two checkpoints reach its steady state; files overwritten in place, one).
Those untimed checkpoints ran at: Strata ${warm("strata")}, POSIX ${warm("posix")}, HDF5 ${
        warm("hdf5")
      } GB/s.

What each side does:

- Strata: one name server and three runtime processes; a durable dataset whose runtimes' tiers are
  an shm tier (files on a tmpfs at ${SHM_MOUNT}${
        /huge=(always|within_size)/.test(shmOptions) ? ", 2 MiB pages" : ""
      }) and a file tier (files on the disk, fsync'd).
  The tmpfs is mounted \`${shmOptions}\`.
  The dataset keeps its latest committed version (retention 1), as each run overwrites the files.
  Bands ${
        [0, 1, 2].map((r) => {
          const ks = Array.from({ length: N }, (_, k) => k).filter((k) => writer(k) === r);
          return `${ks[0]}-${ks.at(-1)}`;
        }).join(", ")
      } are published through runtimes a, b, c.
  - checkpoint: the writer ranks are concurrent clients in this process, on the runtimes' node;
    each asks its runtime to stage its band (\`POST .../stage\`), writes the band into the file the
    runtime names in its shm tier, and asks for the publish (\`POST /v1/stages/:id\`): the runtime
    reads the file once for its CRC-32, the file tier copies it in the kernel (\`copy_file_range\`)
    and fsyncs the copy, the shm tier takes the file itself (a rename), then the copy is
    registered; the publish answers once both copies are written and the record names them.
  - restart cold / warm: reader ranks are processes on the runtimes' node with the Python client
    (bench/python/restart_map.py), one thread each as the file readers are (a client that starts
    no lease-renewing thread, \`renew=False\`). Each asks every runtime holding bands of its block,
    in turn, for their parts (\`POST .../parts\`: one request and one lease per runtime), maps the
    band files of the shm tiers read-only (\`numpy.memmap\`), reads every value of its block in
    place (a sum, no copy), checks every 35th value, and releases its leases.
    "cold": the page cache ${
        dropped ? "dropped" : "could not be dropped (not root): cold reads are warm"
      } before the readers start; the shm copies are on a tmpfs, which dropping
    the page cache does not evict (the fsync'd file copies are what survives a reboot).
  - restart HTTP cold / warm: reader ranks are concurrent clients in this process that attach their
    block over HTTP into buffers they own, from another runtime than the writer of their first band
    (bands crossing the data plane): the path of readers on any node, with no goal here.
- POSIX files and HDF5 (h5py): one file per writer rank, written and fsync'd; reader ranks read
  their block with \`preadv\` per block row (POSIX) or \`read_direct\` (HDF5) into their own buffer
  and check every 35th value; ranks are processes (bench/python/restart_files.py). "cold": the page
  cache dropped before each read; "warm": read from the page cache.
- Rank processes (Python readers, file writers and readers) start together at a barrier and time
  themselves: a figure runs from the first rank's release to the last rank's answer (one monotonic
  clock for all). Runs before 2026-12-07 10:10 read the clock in the parent after the barrier, which
  with more processes than cores woke late: their 16-rank file figures (the warm reads most) were
  too high.

Every 35th value of every block checked: ${allVerified ? "all verified" : "SOME NOT VERIFIED"}.
Goals, against POSIX files in the same run: checkpoint at least as fast; restart cold at least 1.5x
files read from the disk; restart warm (the zero-copy readers) at least as fast as files read from
the page cache.

| phase | ranks | Strata GB/s | POSIX GB/s | HDF5 GB/s | Strata / POSIX | Strata / HDF5 | goal |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |
${rows.join("\n")}

SNAP-like loops: steps over the whole field (a memory-bound update in place), a checkpoint of the
${N} bands every ${SNAP_LOOPS.map((l) => l.every).join(" or ")} steps (${
        SNAP_LOOPS.map((l) => l.steps).join(" and ")
      } steps: 3 checkpoints), each way:

- \`strata\`: the bands published through the shm tiers as above, into a durable dataset that keeps
  its latest version; the next step starts once the checkpoint is durable.
- \`posix\`: each band written over its own file and fsync'd, concurrently, from this process; the
  next step starts once they are.
- \`strata behind\`: the bands published into the runtimes' memory (the shm tiers, a dataset that is
  not durable, keeping two versions), then each runtime flushes its copies to its file tier
  (\`flush\`: copied file to file and fsync'd) while the loop goes on.
- \`posix behind\`: the files written, then fsync'd while the loop goes on.
- Behind either way, the next checkpoint starts, and the loop's time is read, only once the one
  before is durable: every checkpoint is durable when the loop ends.
- \`strata memory\`: published into the runtimes' memory and never made durable (the talk's RT/NS
  SNAP, whose checkpoints stayed in the runtimes); \`posix page cache\`: written, never fsync'd.

Each loop runs twice in a row and its faster run counts (the loop alone runs first and last): a
first run also pays for memory the VM hands out for the first time, a second reuses what the first
freed.

| checkpoint every | checkpoints via | seconds | overhead vs no checkpoint |
| ---: | --- | ---: | ---: |
${
        snap.map((s) =>
          `| ${s.every} steps | ${s.via} | ${s.seconds.toFixed(2)} | ${
            (s.overhead * 100).toFixed(0)
          }% |`
        )
          .join("\n")
      }

${
        SNAP_LOOPS.map(({ every }) => {
          const of = (via: SnapPoint["via"]) =>
            snap.find((s) => s.every === every && s.via === via);
          const pct = (via: SnapPoint["via"]) => {
            const p = of(via);
            return p === undefined ? "-" : `${(p.overhead * 100).toFixed(0)}%`;
          };
          return `Every ${every} steps, checkpoints add: durable at each, Strata ${
            pct("strata")
          }, files ${pct("posix")}; durable behind the loop, Strata ${
            pct("strata behind")
          }, files ${pct("posix behind")}; never durable, Strata ${pct("strata memory")}, files ${
            pct("posix page cache")
          }.`;
        }).join("\n")
      }

Runs:

| system | phase | ranks | GB/s per run | verified |
| --- | --- | ---: | --- | :---: |
${runs.join("\n")}
`,
  );
}

if (import.meta.main) await restartBench();
