/**
 * Helpers of the function and pipeline tests: a registry, runtime, function
 * service and pipeline service in process, on a KV file and file tier under
 * ./tmp, closed and removed afterwards.
 */
import { FunctionService } from "../src/functions/service.ts";
import { PipelineService } from "../src/functions/pipelines.ts";
import { FunctionStore } from "../src/functions/store.ts";
import { TypeChecker } from "../src/functions/typecheck.ts";
import { SandboxPool } from "../src/functions/pool.ts";
import { openRegistry, type Registry } from "../src/registry/registry.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { openMemoryAndFile } from "../src/tiers/memory_and_file.ts";

/** Everything a function test touches. */
export interface Harness {
  readonly dir: string;
  readonly registry: Registry;
  readonly runtime: Runtime;
  readonly store: FunctionStore;
  readonly functions: FunctionService;
  readonly pipelines: PipelineService;
  readonly pool: SandboxPool;
}

/** Options of `withFunctions()`. */
export interface HarnessOptions {
  /** Type-check deploys with `deno check` (slower: about a second per new source). */
  readonly typeCheck?: boolean;
}

/** Runs `fn` with a fresh service stack, then closes it and removes its files. */
export async function withFunctions(
  fn: (h: Harness) => Promise<void>,
  options: HarnessOptions = {},
): Promise<void> {
  await Deno.mkdir("tmp", { recursive: true });
  const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "functions_" });
  const registry = await openRegistry({ path: `${dir}/registry.kv` });
  const runtime = new Runtime({
    node: "n1",
    names: registry,
    tiers: await openMemoryAndFile({
      node: "n1",
      dataDir: dir,
      memory: 256 << 20,
      file: 256 << 20,
    }),
  });
  const store = new FunctionStore(registry.kv);
  const pool = new SandboxPool({ spares: 0 });
  const functions = new FunctionService({
    store,
    catalog: registry,
    runtime,
    pool,
    ...(options.typeCheck === true
      ? { typeChecker: new TypeChecker({ dir: `${dir}/check` }) }
      : {}),
  });
  const pipelines = await PipelineService.open({ store, functions, catalog: registry, runtime });
  try {
    await fn({ dir, registry, runtime, store, functions, pipelines, pool });
  } finally {
    await pipelines.close();
    await pool.close();
    registry.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A particle dataset as a simulation publishes it: 8 fields of 4 bytes, rank fragments. */
export const PARTICLES = `dataset particles {
  type Particle struct { x, y, z float32; ux, uy, uz float32; w float32; id int32 }
  const N = 1000
  var p [N]Particle
}
fragment ranks(lo, hi) { var p = p[lo:hi] }`;

/** Particles with momenta spread over a few energies, deterministic per seed. */
export function particles(n: number, seed = 1): { bytes: Uint8Array; u: Float32Array[] } {
  const f = new Float32Array(n * 8);
  const ids = new Int32Array(f.buffer);
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  for (let i = 0; i < n; i++) {
    f[i * 8] = next();
    f[i * 8 + 1] = next();
    f[i * 8 + 2] = next();
    f[i * 8 + 3] = next() * 2;
    f[i * 8 + 4] = next() * 2;
    f[i * 8 + 5] = next() * 2;
    f[i * 8 + 6] = 1;
    ids[i * 8 + 7] = i;
  }
  const col = (k: number) => Float32Array.from({ length: n }, (_, i) => f[i * 8 + k]!);
  return { bytes: new Uint8Array(f.buffer), u: [col(3), col(4), col(5)] };
}

/** Publishes `bytes` (n particles) as `ranks` rank fragments into a version. */
export async function publishRanks(
  runtime: Runtime,
  version: number,
  bytes: Uint8Array,
  ranks: number,
  dataset = "particles",
): Promise<void> {
  const n = bytes.byteLength / 32;
  const per = n / ranks;
  for (let r = 0; r < ranks; r++) {
    await runtime.publish({
      dataset,
      version,
      fragment: "ranks",
      bindings: { lo: r * per, hi: (r + 1) * per },
      bytes: bytes.slice(r * per * 32, (r + 1) * per * 32),
    });
  }
}

/** The kinetic energy (gamma - 1) of each particle, as the example functions compute it. */
export function energies(u: Float32Array[]): number[] {
  const [ux, uy, uz] = u as [Float32Array, Float32Array, Float32Array];
  return Array.from(ux, (x, i) => Math.sqrt(1 + x * x + uy[i]! * uy[i]! + uz[i]! * uz[i]!) - 1);
}
