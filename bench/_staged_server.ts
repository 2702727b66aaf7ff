/**
 * A `strata serve` whose node has an shm tier, on the tmpfs at
 * /mnt/strata-shm when one is mounted (bench/restart_bench.ts), else in a
 * directory of tmp: clients of the benchmark's process, on its node, stage
 * service bodies there instead of sending them.
 *
 * @module
 */

import { type Proc, spawnStrata } from "../tests/_cluster.ts";

/** The server, where its shm tier is, and whether that is a tmpfs. */
export interface StagedServer {
  readonly server: Proc;
  readonly shm: string;
  readonly tmpfs: boolean;
  /** Stops the server and removes its shm tier's directory. */
  stop(): Promise<void>;
}

/** Starts a `strata serve` with `services` (YAML lines) and an shm tier before its file tier. */
export async function startStagedServer(services: string, prefix: string): Promise<StagedServer> {
  let shm: string;
  let tmpfs = true;
  try {
    shm = `/mnt/strata-shm/${prefix}-${crypto.randomUUID()}`;
    await Deno.mkdir(shm);
  } catch {
    tmpfs = false;
    shm = `${Deno.cwd()}/${await Deno.makeTempDir({ dir: "tmp", prefix: `${prefix}_shm_` })}`;
  }
  const server = await spawnStrata(["serve"], {
    extra: `tiers:\n  - { name: shm, kind: shm, capacity: 4GiB, path: ${shm} }\n` +
      `  - { name: file, kind: file, capacity: 16GiB }\n${services}`,
    paths: [shm],
  });
  return {
    server,
    shm,
    tmpfs,
    stop: async () => {
      await server.stop();
      await Deno.remove(shm, { recursive: true }).catch(() => {});
    },
  };
}
