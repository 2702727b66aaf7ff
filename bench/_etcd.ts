/**
 * A single-member etcd for the registry benchmarks to measure against.
 *
 * @module
 */

import { freePort } from "../tests/_cluster.ts";
import { spawnTool } from "./_tools.ts";

/** A running etcd: its client URL and how to stop it. */
export interface Etcd {
  /** Client URL (its JSON gateway answers under `/v3/`). */
  readonly url: string;
  /** Stops the process and waits for it to exit. */
  readonly stop: () => Promise<void>;
}

/**
 * Starts a single-member etcd on loopback with its data under `dir` (fsync
 * on, its defaults) and resolves once a put of the key `/ready` answers,
 * so a benchmark's reads of `/ready` find it.
 */
export async function startEtcd(dir: string): Promise<Etcd> {
  const client = `http://127.0.0.1:${freePort()}`;
  const peer = `http://127.0.0.1:${freePort()}`;
  const child = spawnTool("etcd", "etcd-server", {
    args: [
      "--name=bench",
      `--data-dir=${dir}/etcd`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=bench=${peer}`,
      "--log-level=error",
    ],
    stdout: "null",
    stderr: "null",
  });
  const stop = async () => {
    child.kill("SIGTERM");
    await child.status;
  };
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(`${client}/v3/kv/put`, {
        method: "POST",
        body: JSON.stringify({ key: btoa("/ready"), value: btoa('{"ready":true}') }),
      });
      await res.body?.cancel();
      if (res.ok) return { url: client, stop };
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error("etcd did not start within 10 s");
}
