/**
 * The talk's first figure at this machine's scale: create_object, publish and
 * attach (registry lookups) in operations per second as concurrent clients
 * grow (16, 64, 256, 1024, spread over two client processes), one operation
 * per request and 100 per batch request, against a real `strata serve`. In
 * the same run: the raw Deno KV commit rates on the same disk (the registry's
 * hardware limit), and etcd's put rate when `etcd` is installed.
 *
 * Run: `deno task bench` (or this file with the bench task's permissions).
 *
 * @module
 */

import { writeResultFiles } from "./_results.ts";
import { startServer } from "../tests/_server.ts";
import { startEtcd } from "./_etcd.ts";

/** One measured point. */
export interface RegistryPoint {
  /** Operation. */
  readonly op: "create" | "publish" | "attach" | "etcd put";
  /** Concurrent clients. */
  readonly clients: number;
  /** Operations per request. */
  readonly batch: number;
  /** Operations per second. */
  readonly opsPerSec: number;
  /** Failed operations. */
  readonly errors: number;
}

const SECONDS = 1;
const CLIENTS = [16, 64, 256, 1024];

async function clientRun(url: string, op: string, clients: number, batch: number, tag: string) {
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "bench/_registry_client.ts",
      url,
      op,
      String(clients),
      String(SECONDS),
      String(batch),
      tag,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)) as {
    ops: number;
    seconds: number;
    errors: number;
    firstError: string;
  };
}

/** Raw Deno KV on disk: single-mutation commits/s and mutations/s at 100 per commit. */
async function kvBaseline(dir: string): Promise<{ single: number; hundred: number }> {
  const kv = await Deno.openKv(`${dir}/baseline.kv`);
  try {
    let n = 0;
    let t = performance.now();
    while (performance.now() - t < 1000) await kv.set(["s", n++], { n });
    const single = n / ((performance.now() - t) / 1000);
    n = 0;
    t = performance.now();
    while (performance.now() - t < 1000) {
      const op = kv.atomic();
      for (let k = 0; k < 100; k++) op.set(["h", n++], { n });
      await op.commit();
    }
    return { single, hundred: n / ((performance.now() - t) / 1000) };
  } finally {
    kv.close();
  }
}

/** Whether the `etcd` binary can be run. */
async function hasEtcd(): Promise<boolean> {
  try {
    await new Deno.Command("etcd", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch {
    return false;
  }
}

/** Measures two client processes against `url` and returns the total rate and errors. */
async function measure(url: string, op: string, clients: number, batch: number, tag: string) {
  const half = clients / 2;
  const [a, b] = await Promise.all([
    clientRun(url, op, half, batch, `${tag}a`),
    clientRun(url, op, half, batch, `${tag}b`),
  ]);
  const errors = a.errors + b.errors;
  if (errors > 0) {
    console.error(`${op} x${batch} @${clients}: ${errors} errors: ${a.firstError || b.firstError}`);
  }
  return { opsPerSec: a.ops / a.seconds + b.ops / b.seconds, errors };
}

function report(p: RegistryPoint): void {
  console.log(
    `${p.op.padEnd(8)} batch ${String(p.batch).padStart(3)}  clients ${
      String(p.clients).padStart(5)
    }  ${Math.round(p.opsPerSec).toString().padStart(8)} ops/s`,
  );
}

/** Runs the registry benchmark and writes bench/results/registry.{json,md}. */
export async function registryBench(): Promise<RegistryPoint[]> {
  const server = await startServer();
  const points: RegistryPoint[] = [];
  let baseline: { single: number; hundred: number };
  try {
    baseline = await kvBaseline(server.dataDir);
    let run = 0;
    for (const op of ["create", "publish", "attach"] as const) {
      for (const batch of [1, 100]) {
        for (const clients of CLIENTS) {
          const tag = `${op}${batch}x${clients}r${run++}`;
          const { opsPerSec, errors } = await measure(server.url, op, clients, batch, tag);
          points.push({ op, clients, batch, opsPerSec, errors });
          report(points.at(-1)!);
        }
      }
    }
  } finally {
    await server.stop();
  }
  let etcd = "etcd is not installed (apt-get install etcd-server to compare): skipped";
  if (await hasEtcd()) {
    const e = await startEtcd(server.dataDir);
    try {
      for (const batch of [1, 100]) {
        for (const clients of CLIENTS) {
          const { opsPerSec, errors } = await measure(e.url, "etcd", clients, batch, "etcd");
          points.push({ op: "etcd put", clients, batch, opsPerSec, errors });
          report(points.at(-1)!);
        }
      }
      etcd =
        "etcd (single member on the same disk, its defaults) measured with the same two client processes through its JSON gateway: `etcd put` rows, 100 puts per request as one txn";
    } finally {
      await e.stop();
    }
  }
  await Deno.remove(server.dataDir, { recursive: true });
  const machine = `${
    new Date().toISOString()
  }, Deno ${Deno.version.deno}, ${Deno.build.target}, ${navigator.hardwareConcurrency} CPUs`;
  const rows = points.map((p) =>
    `| ${p.op} | ${p.batch} | ${p.clients} | ${Math.round(p.opsPerSec)} | ${p.errors} |`
  );
  const md = [
    "# Registry benchmark",
    "",
    machine + ".",
    `One \`strata serve\` (registry on Deno KV on disk, group commit), clients in two processes over loopback HTTP, ${SECONDS} s per point.`,
    "`create` registers a dataset (description parsed, checked and laid out) per operation, batches through `/v1/batch`;",
    "`publish` registers a fragment location (metadata only) through `/v1/batch`; `attach` is the registry lookup of an attach.",
    "",
    `Hardware limit, same disk, same run: raw Deno KV single-mutation commits ${
      Math.round(baseline!.single)
    }/s; 100 mutations per commit ${Math.round(baseline!.hundred)} mutations/s.`,
    etcd + ".",
    "",
    "| op | ops per request | clients | ops/s | errors |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  ].join("\n");
  await writeResultFiles("registry", { machine, baseline: baseline!, etcd, points }, md);
  console.log(md);
  return points;
}

if (import.meta.main) await registryBench();
