/**
 * FlameStore's checkpoint path: a model's weights saved and loaded whole
 * through `strata serve` (durable: the weights on the file tier, fsync'd,
 * before the commit that names them), against the same bytes saved as a
 * file the way a training job checkpoints safely (written to a temporary
 * file, fdatasync'd, renamed over the last one) and read back, in the same
 * run, the two taking turns.
 *
 * @module
 */

import { FlameStore } from "../src/services/flamestore/mod.ts";
import { spawnStrata } from "../tests/_cluster.ts";
import { writeResults } from "./_results.ts";
import { startStagedServer } from "./_staged_server.ts";

/** Weights per model: 1, 16 and 64 MiB of float32. */
const SIZES = [1 << 20, 16 << 20, 64 << 20];
const REPEATS = 7;
/** Untimed rounds of each size first. */
const WARMUPS = 5;

/** One measured point. */
export interface FlameStorePoint {
  /** Bytes of weights. */
  readonly bytes: number;
  /** Strata's save and load, the weights in the request's body, GB/s (medians). */
  readonly strataSave: number;
  readonly strataLoad: number;
  /** Strata's save, the weights staged in the runtime's shm tier (the client on its node), GB/s (median). */
  readonly stagedSave: number;
  /** Strata's load from that server, the weights read in place from their leased shm file, GB/s (median). */
  readonly stagedLoad: number;
  /** The files' save (temp file, fdatasync, rename) and load, GB/s (medians). */
  readonly filesSave: number;
  readonly filesLoad: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

/** Saves `data` as `path` safely: a temporary file, fdatasync'd, renamed over the last one. */
async function saveFile(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    for (let at = 0; at < data.byteLength;) at += await f.write(data.subarray(at));
    await f.syncData();
  } finally {
    f.close();
  }
  await Deno.rename(tmp, path);
}

/** Runs the benchmark and writes its results. */
export async function flamestoreBench(): Promise<FlameStorePoint[]> {
  const services = "services:\n  flamestore: { targets: 4, maxBodyBytes: 256MiB }\n";
  const server = await spawnStrata(["serve"], { extra: services });
  const stagedServer = await startStagedServer(services, "flamestore");
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "flamestore_files_" });
  const points: FlameStorePoint[] = [];
  try {
    const store = await FlameStore.connect(server.url);
    const staged = await FlameStore.connect(stagedServer.server.url, { stage: true });
    for (const bytes of SIZES) {
      const name = `model-${bytes}`;
      const weightSpecs = [{ name: "w", shape: [bytes / 4], dtype: "float32" as const }];
      const data = new Uint8Array(new Float32Array(bytes / 4).map((_, i) => i).buffer);
      await store.register(name, { topology: { bytes }, weightSpecs });
      await staged.register(name, { topology: { bytes }, weightSpecs });
      const path = `${dir}/${name}.bin`;
      // Warm-ups the figures leave out (first allocations, first file, and the
      // server's code compiled: with one warm-up, 1 MiB saves measured 2x their
      // steady time).
      for (let w = 0; w < WARMUPS; w++) {
        await store.save(name, data, { weightSpecs });
        await staged.save(name, data, { weightSpecs });
        await saveFile(path, data);
        await store.load(name);
        await staged.load(name);
        await Deno.readFile(path);
      }
      const t = {
        strataSave: [] as number[],
        strataLoad: [] as number[],
        stagedSave: [] as number[],
        stagedLoad: [] as number[],
        filesSave: [] as number[],
        filesLoad: [] as number[],
      };
      for (let r = 0; r < REPEATS; r++) {
        t.strataSave.push(await timed(() => store.save(name, data, { weightSpecs })));
        t.stagedSave.push(await timed(() => staged.save(name, data, { weightSpecs })));
        t.filesSave.push(await timed(() => saveFile(path, data)));
        let loaded: Uint8Array | undefined;
        const check = (how: string) => {
          if (loaded?.byteLength !== bytes || loaded[bytes - 1] !== data[bytes - 1]) {
            throw new Error(
              `FlameStore loaded ${loaded?.byteLength} bytes of ${name} ${how}, not its weights`,
            );
          }
        };
        t.strataLoad.push(await timed(async () => loaded = (await store.load(name)).data));
        check("over HTTP");
        t.stagedLoad.push(await timed(async () => loaded = (await staged.load(name)).data));
        check("in place");
        t.filesLoad.push(await timed(() => Deno.readFile(path)));
      }
      const gbs = (s: number[]) => Number((bytes / median(s) / 1e9).toFixed(3));
      const p = {
        bytes,
        strataSave: gbs(t.strataSave),
        strataLoad: gbs(t.strataLoad),
        stagedSave: gbs(t.stagedSave),
        stagedLoad: gbs(t.stagedLoad),
        filesSave: gbs(t.filesSave),
        filesLoad: gbs(t.filesLoad),
      };
      points.push(p);
      console.log(JSON.stringify(p));
    }
  } finally {
    await server.stop();
    await stagedServer.stop();
    await Deno.remove(dir, { recursive: true });
  }
  await writeResults("flamestore", points, (m) => markdown(points, m, stagedServer.tmpfs));
  return points;
}

function markdown(points: readonly FlameStorePoint[], machineLine: string, tmpfs: boolean): string {
  const mib = (b: number) => `${b / (1 << 20)} MiB`;
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const rows = points.map((p) =>
    `| ${mib(p.bytes)} | ${p.strataSave} | ${p.stagedSave} | ${p.filesSave} | ${
      x(p.stagedSave, p.filesSave)
    } | ${p.strataLoad} | ${p.stagedLoad} | ${p.filesLoad} | ${x(p.strataLoad, p.filesLoad)} | ${
      x(p.stagedLoad, p.filesLoad)
    } |`
  );
  return `# FlameStore benchmark

${machineLine}
\`strata serve\` with the FlameStore service (4 targets, durable: a save's weights are written to
the file tier and fsync'd before the KV commit that names them, and answered after it) and a
client in the benchmark's process (TypeScript client, loopback HTTP). Strata save: the weights in
the request's body (a framed \`save_bytes\`). Strata staged save: a second server with an shm
tier (${
    tmpfs ? "a tmpfs" : "a directory on the disk"
  }); the client, on its node, writes the weights into a stage's
file there and names the stage in the request (\`POST /v1/services/flamestore/stages\`); its
staged loads read the weights in place from the file that server leases on its shm tier
(\`lease\`, then \`DELETE /v1/leases/<lease>\`). Files:
the same bytes saved as a training job checkpoints safely (a temporary file written, fdatasync'd,
renamed over the last one) and read back from the page cache, on the same disk. They take turns,
${REPEATS} times per size after ${WARMUPS} untimed rounds; medians, GB/s; every load checked.

| weights | Strata save GB/s | Strata staged save GB/s | files save GB/s | staged save vs files | Strata load GB/s | Strata staged load GB/s | files load GB/s | load vs files | staged load vs files |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}
`;
}
