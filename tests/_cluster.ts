/**
 * Starts name servers and runtimes as their own processes for multi-process
 * tests: loopback ports, data under tmp/, the start task's permissions.
 */

import type { RemoteNameService } from "../src/cluster/name_client.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { openMemoryAndFile } from "../src/tiers/memory_and_file.ts";
import type { WireClient } from "../src/wire/client.ts";
import { mallocEnv } from "../src/cli/malloc_tunables.ts";

/** A running process of the cluster. */
export interface Proc {
  /** Its HTTP base URL. */
  readonly url: string;
  /** Its port. */
  readonly port: number;
  /** Its data directory. */
  readonly dataDir: string;
  /** Stops it with SIGTERM and waits for it to exit. */
  stop(): Promise<Deno.CommandStatus>;
  /** Kills it with SIGKILL (a crash). */
  kill(): Promise<void>;
}

/** A loopback port free at the time of asking. */
export function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  return port;
}

/**
 * The first of `count` consecutive ports free on 127.0.0.1 now, below the
 * kernel's ephemeral range (32768 and up on Linux), where the client ends
 * of the suite's many connections do not take them meanwhile.
 */
export function freePortRange(count: number): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * (12_000 - count));
    const probes: Deno.Listener[] = [];
    try {
      for (let p = first; p < first + count; p++) {
        probes.push(Deno.listen({ hostname: "127.0.0.1", port: p }));
      }
      return first;
    } catch {
      // One is taken: another range.
    } finally {
      for (const probe of probes) probe.close();
    }
  }
  throw new Error(`No ${count} consecutive free ports found between 20000 and 32000`);
}

/**
 * The data directories under tmp/ that `spawnStrata` used, removed when this process ends:
 * a test may start a process again on the directory of one it stopped, and
 * the file tiers of a benchmark's runtimes hold gigabytes that must not pile
 * up under tmp/ run after run.
 */
const made = new Set<string>();
globalThis.addEventListener("unload", () => {
  for (const dir of made) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* removed by its test already */ }
  }
});

/**
 * Starts `strata COMMAND` with the matching task's permissions on a loopback
 * port (free unless given), its config and data under `dataDir` (a new
 * directory under tmp/ unless given; one under tmp/ is removed when this process ends), and
 * waits until it listens. `paths`: more directories it may read and write
 * (an shm tier's tmpfs directory). `tunables`: its `GLIBC_TUNABLES` (default: the allocator's
 * settings the deno.json tasks start it with; "" for glibc's defaults).
 */
export async function spawnStrata(
  command: string[],
  options: {
    dataDir?: string;
    port?: number;
    extra?: string;
    paths?: readonly string[];
    tunables?: string;
  } = {},
): Promise<Proc> {
  // Port 0 unless given: the OS picks one as it listens, and its line says which
  // (a port probed free beforehand could be taken before the server binds it).
  const asked = options.port ?? 0;
  await Deno.mkdir("tmp", { recursive: true });
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ dir: "tmp" });
  // A directory a test made under tmp/ for it goes too.
  if (dataDir.startsWith("tmp/")) made.add(dataDir);
  const config = `${dataDir}/strata.yaml`;
  await Deno.writeTextFile(
    config,
    `listen:\n  hostname: 127.0.0.1\n  port: ${asked}\ndataDir: ${dataDir}\n${
      options.extra ?? ""
    }` +
      // One line per request would bury the test output: warnings and errors only.
      (/^log:/m.test(options.extra ?? "") ? "" : "log:\n  level: warn\n"),
  );
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=${["config", dataDir, ...options.paths ?? []].join(",")}`,
      `--allow-write=${[dataDir, ...options.paths ?? []].join(",")}`,
      "--allow-env=LOG_TOKENS,LOG_STREAM,GLIBC_TUNABLES",
      // Functions run in sandbox processes (`sh` applies their memory limit,
      // then runs `deno`); a name server also type-checks them with `deno check`.
      "--allow-run=deno,sh",
      "src/cli/main.ts",
      ...command,
      "--config",
      config,
    ],
    // Started as the deno.json tasks start it: with the allocator's settings.
    env: options.tunables === undefined ? mallocEnv() : { GLIBC_TUNABLES: options.tunables },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let port: number | undefined;
  while (port === undefined) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${command[0]} exited before listening: ${seen}`);
    seen += value;
    const bound = /listening on http:\/\/127\.0\.0\.1:(\d+)\D/.exec(seen);
    if (bound !== null) port = Number(bound[1]);
  }
  const drained = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  const finish = async () => {
    const status = await child.status;
    await drained;
    return status;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    stop: () => {
      child.kill("SIGTERM");
      return finish();
    },
    kill: async () => {
      child.kill("SIGKILL");
      await finish();
    },
  };
}

/** Starts a name server; `nameservers`: the shard list it is part of. */
export function startNameserver(
  options: { dataDir?: string; port?: number; nameservers?: readonly string[] } = {},
): Promise<Proc> {
  const { nameservers, ...rest } = options;
  return spawnStrata(["nameserver"], {
    ...rest,
    ...(nameservers === undefined ? {} : { extra: `nameservers: [${nameservers.join(", ")}]\n` }),
  });
}

/** Starts a runtime of `nameservers` named `node` (`config`: more lines of its YAML config). */
export function startRuntime(
  node: string,
  nameservers: readonly Proc[],
  options: {
    dataDir?: string;
    port?: number;
    leaseMs?: number;
    config?: string;
    paths?: readonly string[];
  } = {},
): Promise<Proc> {
  const extra = `node: ${node}\nnameservers: [${nameservers.map((n) => n.url).join(", ")}]\n` +
    (options.leaseMs === undefined ? "" : `leaseMs: ${options.leaseMs}\n`) +
    (options.config ?? "");
  return spawnStrata(["runtime"], { ...options, extra });
}

/** A name server and its runtimes, each its own process. */
export interface Cluster {
  /** The name server. */
  readonly ns: Proc;
  /** The runtimes, in the order of their node names. */
  readonly runtimes: readonly Proc[];
  /** Kills runtime `i` with SIGKILL (a crash); `stop()` then leaves it alone. */
  kill(i: number): Promise<void>;
  /** Stops every runtime still running, then the name server. */
  stop(): Promise<void>;
}

/**
 * Starts a name server and one runtime per node name, each with `config`
 * (more lines of its YAML config) and a lease of `leaseMs`.
 */
export async function startCluster(
  nodes: readonly string[],
  options: { config?: string; leaseMs?: number } = {},
): Promise<Cluster> {
  const ns = await startNameserver();
  const runtimes: Proc[] = [];
  const killed = new Set<number>();
  const stop = async () => {
    for (const [i, p] of runtimes.entries()) if (!killed.has(i)) await p.stop();
    await ns.stop();
  };
  try {
    for (const node of nodes) {
      runtimes.push(
        await startRuntime(node, [ns], {
          ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
          ...(options.config === undefined ? {} : { config: options.config }),
        }),
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    ns,
    runtimes,
    kill: async (i) => {
      killed.add(i);
      await runtimes[i]!.kill();
    },
    stop,
  };
}

/**
 * A runtime embedded in this process, as a member of a cluster: node
 * `node`, 1 MiB of memory and of file tier under `dir`, reading other
 * runtimes' copies over `wire`.
 */
export async function embeddedRuntime(
  node: string,
  names: RemoteNameService,
  wire: WireClient,
  dir: string,
): Promise<Runtime> {
  return new Runtime({
    node,
    names,
    tiers: await openMemoryAndFile({ node, dataDir: dir, memory: 1 << 20, file: 1 << 20 }),
    wire,
  });
}
