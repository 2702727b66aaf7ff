/**
 * Starts `strata serve` as its own process for end-to-end tests: on a free
 * loopback port, with its data under tmp/, with the start task's permissions.
 */
import assert from "node:assert/strict";

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
  let port = options.port;
  if (port === undefined) {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    port = (probe.addr as Deno.NetAddr).port;
    probe.close();
  }
  await Deno.mkdir("tmp", { recursive: true });
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ dir: "tmp" });
  const config = `${dataDir}/strata.yaml`;
  await Deno.writeTextFile(
    config,
    `listen:\n  hostname: 127.0.0.1\n  port: ${port}\ndataDir: ${dataDir}\n${options.extra ?? ""}`,
  );
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=config,${dataDir}`,
      `--allow-write=${dataDir}`,
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      "--allow-run=deno",
      "src/cli/main.ts",
      "serve",
      "--config",
      config,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Server exited before listening: ${seen}`);
    seen += value;
  }
  // Keep draining stdout so the child never blocks on a full pipe.
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
    dataDir,
    stop: async () => {
      child.kill("SIGTERM");
      const status = await finish();
      assert.equal(status.success, true, "server should exit cleanly on SIGTERM");
    },
    kill: async () => {
      child.kill("SIGKILL");
      await finish();
    },
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
