/**
 * Starts `strata serve` as its own process for end-to-end tests: on a free
 * loopback port, with its data under tmp/, with the start task's permissions.
 */
import assert from "node:assert/strict";
import { spawnStrata } from "./_cluster.ts";

/** A running server. */
export interface Server {
  /** Its base URL. */
  readonly url: string;
  /** Its data directory. */
  readonly dataDir: string;
  /** Stops it with SIGTERM and checks it exits cleanly. */
  stop(): Promise<void>;
  /** Kills it with SIGKILL (a crash). */
  kill(): Promise<void>;
}

/** Options of `startServer()`. */
export interface ServerOptions {
  /** Reuse this data directory (a restart). */
  readonly dataDir?: string;
  /** Extra YAML appended to the config. */
  readonly extra?: string;
  /** Port to listen on (a restart keeps its port). */
  readonly port?: number;
}

/** Starts a server and waits until it listens. */
export async function startServer(options: ServerOptions = {}): Promise<Server> {
  const proc = await spawnStrata(["serve"], options);
  return {
    url: proc.url,
    dataDir: proc.dataDir,
    stop: async () => {
      const status = await proc.stop();
      assert.equal(status.success, true, "server should exit cleanly on SIGTERM");
    },
    kill: () => proc.kill(),
  };
}

/** Runs a Deno program to completion and returns its output. */
export async function runDeno(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("deno", { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
