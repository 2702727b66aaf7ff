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

import { startServer } from "../tests/_server.ts";

/** One measured point. */
export interface RegistryPoint {
  /** Operation. */
  readonly op: "create" | "publish" | "attach";
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

async function etcdRate(): Promise<string> {
  try {
    await new Deno.Command("etcd", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
  } catch {
    return "etcd is not installed (apt-get install etcd-server to compare): skipped";
  }
  return "etcd is installed but this benchmark does not drive it yet: skipped";
}

/** Runs the registry benchmark and writes bench/results/registry.{json,md}. */
export async function registryBench(): Promise<RegistryPoint[]> {
  const server = await startServer({ extra: "tiers:\n  memory: 1GiB\n" });
  const points: RegistryPoint[] = [];
  let baseline: { single: number; hundred: number };
  try {
    baseline = await kvBaseline(server.dataDir);
    let run = 0;
    for (const op of ["create", "publish", "attach"] as const) {
      for (const batch of [1, 100]) {
        for (const clients of CLIENTS) {
          const tag = `${op}${batch}x${clients}r${run++}`;
          const half = clients / 2;
          const [a, b] = await Promise.all([
            clientRun(server.url, op, half, batch, `${tag}a`),
            clientRun(server.url, op, half, batch, `${tag}b`),
          ]);
          const opsPerSec = a.ops / a.seconds + b.ops / b.seconds;
          const errors = a.errors + b.errors;
          if (errors > 0) {
            console.error(
              `${op} x${batch} @${clients}: ${errors} errors: ${a.firstError || b.firstError}`,
            );
          }
          points.push({ op, clients, batch, opsPerSec, errors });
          console.log(
            `${op.padEnd(8)} batch ${String(batch).padStart(3)}  clients ${
              String(clients).padStart(5)
            }  ${Math.round(opsPerSec).toString().padStart(8)} ops/s`,
          );
        }
      }
    }
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
  const etcd = await etcdRate();
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
    "`create` registers a dataset per operation (batches of 100 go as 100 concurrent requests: there is no batched create);",
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
  await Deno.mkdir("bench/results", { recursive: true });
  await Deno.writeTextFile("bench/results/registry.md", md);
  await Deno.writeTextFile(
    "bench/results/registry.json",
    JSON.stringify({ machine, baseline: baseline!, etcd, points }, null, 2) + "\n",
  );
  console.log(md);
  return points;
}

if (import.meta.main) await registryBench();
