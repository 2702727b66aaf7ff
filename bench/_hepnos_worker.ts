/**
 * One client process of the services benchmark: creates events and stores
 * and loads products through HEPnOS on Strata or through files per subrun,
 * singly or batched, and prints its counts and times as JSON.
 *
 * Strata answers a create or a store once it is durable (its KV commit
 * fsync'd, a blob's bytes fsync'd to the file tier before the record naming
 * them). `files-sync` holds the files to the same rule: each file written
 * is fsync'd before its operation counts as done (a batch's files are
 * written and fsync'd concurrently). `files` leaves them in the page cache,
 * as a program that never syncs would.
 *
 * After an untimed pass, each timed phase (creates, stores, loads) starts
 * when the benchmark says so: the worker prints `ready` and waits for a
 * line on its standard input; it prints the phases' spans (`WorkerSpans`,
 * on the clock all processes share) as its last line.
 *
 * `deno run ... bench/_hepnos_worker.ts <json args>`
 *
 * @module
 */

import { AsyncEngine, DataStore, type SubRun, WriteBatch } from "../src/services/hepnos/mod.ts";
import { lineReader } from "./_lines.ts";

/** What one worker is asked. */
export interface WorkerArgs {
  /** `strata`, `files-sync` (each file fsync'd) or `files` (page cache only). */
  readonly system: "strata" | "files" | "files-sync";
  /** `single` (one request per operation) or `batched`. */
  readonly mode: "single" | "batched";
  /** Server URL (strata) or directory (files). */
  readonly where: string;
  /** This client's index. */
  readonly client: number;
  /** Events to create (and products to store and load). */
  readonly events: number;
  /** Bytes per product. */
  readonly bytes: number;
  /**
   * Events the single client of the point has: the untimed pass repeats
   * its stores (of other products of its events) and its loads until it
   * has made as many as that client makes (`warmRounds`), so a client of
   * 16, which has a sixteenth of the point's events, runs its store and
   * load paths as often as one alone before it is timed. Ignored by the
   * timed pass.
   */
  readonly warmEvents?: number;
}

/** Seconds each phase lasted, over all clients (bench/services_bench.ts `runClients`). */
export interface WorkerTimes {
  /** Creating events. */
  readonly createS: number;
  /** Storing one product per event. */
  readonly storeS: number;
  /** Loading them back. */
  readonly loadS: number;
}

/** When a phase of a worker began and ended, in ms since the epoch (sub-millisecond). */
export interface Span {
  /** Its first operation's start. */
  readonly from: number;
  /** Its last operation's end. */
  readonly to: number;
}

/** What a timed worker prints: the span of each phase. */
export interface WorkerSpans {
  /** Creating events. */
  readonly create: Span;
  /** Storing one product per event. */
  readonly store: Span;
  /** Loading them back. */
  readonly load: Span;
}

/**
 * Starts each timed phase: the timed pass of a worker run with others
 * prints `ready` and waits for a line on its standard input, so every
 * client starts the phase together (bench/services_bench.ts `runClients`);
 * the untimed pass starts at once.
 */
type Gate = () => Promise<void>;

/** The time now, in ms since the epoch, on the clock every process shares. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Times `phase` after `gate` opens. */
async function timed(gate: Gate, phase: () => Promise<unknown>): Promise<Span> {
  await gate();
  const from = now();
  await phase();
  return { from, to: now() };
}

const PER_SUBRUN = 100;
const BATCH = 128;
/** Requests a write batch keeps in flight (its async engine's bound). */
const IN_FLIGHT = 4;

/**
 * Events of the untimed pass each worker makes first, through the same
 * phases on a dataset or directory of its own: a figure is the rate of a
 * process already running, not of its code compiling (a fresh client
 * process created 25.8k events/s in its first pass of 8000 and 36-53k in
 * the next five, one server throughout; batched loads of 100 B products,
 * one client, rose from 147-178k to 309-465k/s over six passes of 51,200).
 * As many as the timed pass, up to 8000 (a batched point's events for one
 * client).
 */
export function warmupEvents(events: number): number {
  return Math.min(events, 8000);
}

/**
 * Times the timed load phase reads every product of the worker: a batched
 * point's 8000 products load in 15 to 60 ms, too short a phase to tell a
 * rate from the moment each process woke up to start it; 8 passes make it
 * 0.1 to 0.5 s. Both systems read theirs as many times (files from the
 * page cache from the second pass on, as from the first: they were just
 * written); single loads, 2000 requests a point, read once.
 */
export function loadPasses(mode: WorkerArgs["mode"]): number {
  return mode === "batched" ? 8 : 1;
}

/**
 * Rounds of stores and loads a worker's phases make: one, or more in the
 * untimed pass, enough to make as many as a client with `a.warmEvents`
 * events. A client of 16 had loaded 31 batches of 128 before its timed
 * loads (8 passes over its 500 products), and its process spent 2.6 µs of
 * CPU a product once timed, against 1.5 µs after some 200 batches and 0.9
 * µs for a single client (a loop of batched 100 B loads with 16 client
 * processes).
 */
export function warmRounds(a: WorkerArgs): number {
  if (a.warmEvents === undefined || a.events === 0) return 1;
  return Math.max(1, Math.ceil(a.warmEvents / a.events));
}

/** The label of the products a round of stores writes: `p`, then `p1`, `p2`... */
function labelOf(round: number): string {
  return round === 0 ? "p" : `p${round}`;
}

async function strata(a: WorkerArgs, gate: Gate): Promise<WorkerSpans> {
  const store = await DataStore.connect(a.where);
  const ds = await store.root().createDataSet(
    `bench-${a.mode}-${a.bytes}-${a.client}-${crypto.randomUUID()}`,
  );
  const run = await ds.createRun(0n);
  const value = new Uint8Array(a.bytes).fill(a.client);
  const subruns: SubRun[] = [];
  for (let s = 0; s * PER_SUBRUN < a.events; s++) subruns.push(await run.createSubRun(BigInt(s)));
  const ids = [...Array(a.events).keys()];
  const sub = (i: number) => subruns[Math.floor(i / PER_SUBRUN)]!;
  // Batched stores send in the background, as HEPnOS's WriteBatch over an AsyncEngine.
  const engine = new AsyncEngine({ maxInFlight: IN_FLIGHT });
  const events: Awaited<ReturnType<SubRun["createEvent"]>>[] = [];
  const create = await timed(gate, async () => {
    if (a.mode === "single") {
      for (const i of ids) events.push(await sub(i).createEvent(BigInt(i)));
    } else {
      // Through the engine too: creates whose parents exist travel side by side.
      const batch = new WriteBatch(store, { maxBatchSize: BATCH, async: engine });
      for (const i of ids) events.push(await sub(i).createEvent(BigInt(i), { batch }));
      await batch.close();
      failed(engine);
    }
  });
  const store_ = await timed(gate, async () => {
    for (let round = 0; round < warmRounds(a); round++) {
      const label = labelOf(round);
      if (a.mode === "single") {
        for (const e of events) await e.store(label, "bytes", value);
      } else {
        const batch = new WriteBatch(store, {
          maxBatchSize: Math.max(1, Math.min(BATCH, Math.floor((8 << 20) / a.bytes))),
          async: engine,
        });
        for (const e of events) await e.store(label, "bytes", value, { batch });
        await batch.close();
        failed(engine);
      }
    }
  });
  const load = await timed(gate, async () => {
    if (a.mode === "single") {
      for (let round = 0; round < warmRounds(a); round++) {
        for (const e of events) check(await e.load("p", "bytes"), a.bytes);
      }
      return;
    }
    // Batched loads keep IN_FLIGHT requests going, as batched stores do through their engine
    // (and as the file baseline reads a batch's files concurrently).
    const per = Math.max(1, Math.min(BATCH, Math.floor((8 << 20) / a.bytes)));
    // Each pass reads the events in order, in batches of `per`.
    const batches: number[] = [];
    for (let pass = 0; pass < loadPasses(a.mode) * warmRounds(a); pass++) {
      for (let at = 0; at < events.length; at += per) batches.push(at);
    }
    let next = 0;
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < batches.length) {
        const at = batches[next++]!;
        const values = await store.loadProducts(
          events.slice(at, at + per).map((e) => ({
            item: e.descriptor,
            label: "p",
            type: "bytes",
          })),
        );
        for (const v of values) check(v, a.bytes);
      }
    }));
  });
  return { create, store: store_, load };
}

async function files(a: WorkerArgs, gate: Gate): Promise<WorkerSpans> {
  const root = `${a.where}/c${a.client}`;
  const value = new Uint8Array(a.bytes).fill(a.client);
  const ids = [...Array(a.events).keys()];
  const dir = (i: number) => `${root}/run0/sub${Math.floor(i / PER_SUBRUN)}`;
  for (let s = 0; s * PER_SUBRUN < a.events; s++) {
    await Deno.mkdir(dir(s * PER_SUBRUN), { recursive: true });
  }
  const phase = (op: (i: number, pass: number) => Promise<unknown>, passes = 1) =>
    timed(gate, async () => {
      for (let pass = 0; pass < passes; pass++) {
        if (a.mode === "single") { for (const i of ids) await op(i, pass); }
        else {
          for (let at = 0; at < ids.length; at += BATCH) {
            await Promise.all(ids.slice(at, at + BATCH).map((i) => op(i, pass)));
          }
        }
      }
    });
  const write = a.system === "files" ? Deno.writeFile : writeSynced;
  const create = await phase((i) => write(`${dir(i)}/e${i}`, new Uint8Array(0)));
  const store = await phase(
    (i, round) => write(`${dir(i)}/e${i}.${labelOf(round)}.bytes`, value),
    warmRounds(a),
  );
  const load = await phase(
    async (i) => check(await Deno.readFile(`${dir(i)}/e${i}.p.bytes`), a.bytes),
    loadPasses(a.mode) * warmRounds(a),
  );
  return { create, store, load };
}

/** Writes `bytes` to `path` and fsyncs the file (data and inode) before resolving. */
async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let at = 0; at < bytes.byteLength;) at += await file.write(bytes.subarray(at));
  await file.sync();
}

/** Throws the first error a batch's background requests left in `engine`. */
function failed(engine: AsyncEngine): void {
  if (engine.errors.length > 0) throw engine.errors[0];
}

function check(v: Uint8Array | undefined | null, bytes: number): void {
  if (v?.length !== bytes) throw new Error(`Loaded ${v?.length} bytes, expected ${bytes}`);
}

if (import.meta.main) {
  const args = JSON.parse(Deno.args[0]!) as WorkerArgs;
  const run = (a: WorkerArgs, gate: Gate) =>
    a.system === "strata" ? strata(a, gate) : files(a, gate);
  // Untimed first (files in a directory of their own: `files` names `c<client>`).
  await run(
    { ...args, events: warmupEvents(args.events), client: args.client + 100_000 },
    () => Promise.resolve(),
  );
  // Timed: each phase starts when the benchmark says so, for every client at once.
  const next = lineReader(Deno.stdin.readable);
  const gate = async () => {
    console.log("ready");
    if (await next() === undefined) {
      throw new Error("The benchmark closed this client's standard input");
    }
  };
  const { warmEvents: _, ...timedArgs } = args;
  console.log(JSON.stringify(await run(timedArgs, gate)));
}
