/**
 * Mobject under an IOR-like workload: 4 writers each write 16 transfers of
 * 1 MiB at their offsets, into an object each (file per process) or into
 * one shared object (segmented), then read them back, through `strata
 * serve` (durable: every write answered once its chunks are fsync'd and its
 * commit is durable) and through files on the same disk in the same run
 * (`pwrite` at the same offsets, then fdatasync once per file as IOR's
 * `-e` does, or after every transfer, as durable as Strata's writes).
 *
 * @module
 */

import { Mobject } from "../src/services/mobject/mod.ts";
import { spawnStrata } from "../tests/_cluster.ts";
import { writeResults } from "./_results.ts";

const WRITERS = 4;
const TRANSFERS = 16;
const TRANSFER = 1 << 20;
const REPEATS = 3;

/** One measured point: GB/s of the whole workload, the best of the repeats. */
export interface MobjectPoint {
  /** `fpp` (an object or file per writer) or `shared` (one, segmented). */
  readonly layout: "fpp" | "shared";
  /** `strata`, `files` (fdatasync at close) or `files-sync` (fdatasync per transfer). */
  readonly system: "strata" | "files" | "files-sync";
  readonly writeGBs: number;
  readonly readGBs: number;
}

function transfer(w: number, i: number): Uint8Array {
  const out = new Uint8Array(TRANSFER);
  out.fill((w * 31 + i * 7) & 0xff);
  out[0] = w;
  out[1] = i;
  return out;
}

/** Where transfer `i` of writer `w` goes: its object and offset. */
function place(layout: MobjectPoint["layout"], w: number, i: number) {
  return layout === "fpp"
    ? { name: `fpp-${w}`, offset: i * TRANSFER }
    : { name: "shared", offset: (i * WRITERS + w) * TRANSFER };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function runStrata(url: string, layout: MobjectPoint["layout"], tag: string) {
  const io = (await Mobject.connect(url)).ioctx(tag);
  const write = await timed(() =>
    Promise.all([...Array(WRITERS).keys()].map(async (w) => {
      for (let i = 0; i < TRANSFERS; i++) {
        const p = place(layout, w, i);
        await io.write(p.name, transfer(w, i), p.offset);
      }
    }))
  );
  const read = await timed(() =>
    Promise.all([...Array(WRITERS).keys()].map(async (w) => {
      for (let i = 0; i < TRANSFERS; i++) {
        const p = place(layout, w, i);
        const got = await io.readBytes(p.name, TRANSFER, p.offset);
        if (got.length !== TRANSFER || got[0] !== w || got[1] !== i) {
          throw new Error(`Mobject read back the wrong bytes of writer ${w}, transfer ${i}`);
        }
      }
    }))
  );
  return { write, read };
}

async function runFiles(dir: string, layout: MobjectPoint["layout"], syncEach: boolean) {
  const write = await timed(() =>
    Promise.all([...Array(WRITERS).keys()].map(async (w) => {
      const files = new Map<string, Deno.FsFile>();
      try {
        for (let i = 0; i < TRANSFERS; i++) {
          const p = place(layout, w, i);
          let f = files.get(p.name);
          if (f === undefined) {
            f = await Deno.open(`${dir}/${p.name}`, { write: true, create: true });
            files.set(p.name, f);
          }
          await f.seek(p.offset, Deno.SeekMode.Start);
          const data = transfer(w, i);
          for (let at = 0; at < data.length;) at += await f.write(data.subarray(at));
          if (syncEach) await f.syncData();
        }
        for (const f of files.values()) await f.syncData();
      } finally {
        for (const f of files.values()) f.close();
      }
    }))
  );
  const read = await timed(() =>
    Promise.all([...Array(WRITERS).keys()].map(async (w) => {
      for (let i = 0; i < TRANSFERS; i++) {
        const p = place(layout, w, i);
        using f = await Deno.open(`${dir}/${p.name}`);
        await f.seek(p.offset, Deno.SeekMode.Start);
        const got = new Uint8Array(TRANSFER);
        for (let at = 0; at < got.length;) at += (await f.read(got.subarray(at))) ?? got.length;
        if (got[0] !== w || got[1] !== i) throw new Error(`Files read back the wrong bytes`);
      }
    }))
  );
  return { write, read };
}

/** Runs the benchmark and writes its results. */
export async function mobjectBench(): Promise<MobjectPoint[]> {
  const server = await spawnStrata(["serve"], {
    extra: "services:\n  mobject: { targets: 4, maxBodyBytes: 64MiB }\n",
  });
  const points: MobjectPoint[] = [];
  const bytes = WRITERS * TRANSFERS * TRANSFER;
  try {
    await runStrata(server.url, "fpp", "warmup");
    for (const layout of ["fpp", "shared"] as const) {
      const best = new Map<MobjectPoint["system"], { write: number; read: number }>();
      for (let r = 0; r < REPEATS; r++) {
        for (const system of ["strata", "files", "files-sync"] as const) {
          let t;
          if (system === "strata") t = await runStrata(server.url, layout, `${layout}-${r}`);
          else {
            const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "mobject_files_" });
            try {
              t = await runFiles(dir, layout, system === "files-sync");
            } finally {
              await Deno.remove(dir, { recursive: true });
            }
          }
          const b = best.get(system);
          best.set(system, {
            write: Math.min(b?.write ?? Infinity, t.write),
            read: Math.min(b?.read ?? Infinity, t.read),
          });
        }
      }
      for (const [system, t] of best) {
        const p = {
          layout,
          system,
          writeGBs: Number((bytes / t.write / 1e9).toFixed(3)),
          readGBs: Number((bytes / t.read / 1e9).toFixed(3)),
        };
        points.push(p);
        console.log(JSON.stringify(p));
      }
    }
  } finally {
    await server.stop();
  }
  await writeResults("mobject", points, (m) => markdown(points, m));
  return points;
}

function markdown(points: readonly MobjectPoint[], machineLine: string): string {
  const get = (layout: string, system: string) =>
    points.find((p) => p.layout === layout && p.system === system)!;
  const rows = (["fpp", "shared"] as const).map((layout) => {
    const s = get(layout, "strata");
    const f = get(layout, "files");
    const fs = get(layout, "files-sync");
    return `| ${layout} | ${s.writeGBs} | ${f.writeGBs} | ${fs.writeGBs} | ${
      (s.writeGBs / fs.writeGBs).toFixed(2)
    }x | ${s.readGBs} | ${f.readGBs} | ${(s.readGBs / f.readGBs).toFixed(2)}x |`;
  });
  return `# Mobject benchmark

${machineLine}
An IOR-like workload: ${WRITERS} writers (concurrent, in one client process) each write ${TRANSFERS}
transfers of ${
    TRANSFER >> 20
  } MiB at their offsets, into an object each (fpp) or into one shared object
(segmented: transfer i of writer w at (i x ${WRITERS} + w) MiB), then read them all back, every
transfer checked. Strata: one \`strata serve\` with the Mobject service (4 targets, chunks of 1 MiB,
durable: each write op answered once its chunk is on the file tier, fsync'd, and its commit is
durable), TypeScript client over loopback HTTP, the bytes raw in framed bodies and answers. Files on the same disk in the same run:
pwrite at the same offsets, fdatasync once per file at the end (IOR's \`-e\`), or after every
transfer (as durable as Strata's writes); reads from the page cache. Best of ${REPEATS} runs, the
systems taking turns; GB/s of the whole workload.

| layout | Strata write | files write (sync at end) | files write (sync each) | write vs sync each | Strata read | files read | read vs files |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}
`;
}
