/**
 * Registry operations under one compiled load generator: create, publish
 * (a copy's registration, metadata only) and attach lookup against one
 * `strata serve`, next to etcd 3.4's put and range (single member, same
 * disk, its JSON gateway) in the same run, all driven by wrk with Lua
 * scripts, so the clients are the same C program for both and not what is
 * measured. 16 to 1,024 connections, one operation per request and 100 per
 * request (Strata's `/v1/batch`, etcd's txn). Every request writes new
 * names (creates, publishes, puts); failed operations (non-2xx answers and
 * errors inside batch results) are counted by the scripts.
 *
 * Run: `deno task bench registry-wrk`, or this file with the bench task's
 * permissions: `[seconds] [rounds] [clients,...] [batches,...]`.
 *
 * @module
 */

import { startServer } from "../tests/_server.ts";
import { startEtcd } from "./_etcd.ts";
import { writeResults } from "./_results.ts";
import { median, wrk } from "./wrk_bench.ts";

const SECONDS = import.meta.main ? Number(Deno.args[0] ?? 3) : 3;
const ROUNDS = import.meta.main ? Number(Deno.args[1] ?? 3) : 3;
const CLIENTS = import.meta.main && Deno.args[2] !== undefined
  ? Deno.args[2].split(",").map(Number)
  : [16, 64, 256, 1024];
const BATCHES = import.meta.main && Deno.args[3] !== undefined
  ? Deno.args[3].split(",").map(Number)
  : [1, 100];
const GOAL_OPS = 140_000;

/** What is measured. */
export type RegistryWrkOp = "create" | "publish" | "lookup" | "etcd put" | "etcd range";

/** One measured point: the median of its rounds. */
export interface RegistryWrkPoint {
  /** Operation. */
  readonly op: RegistryWrkOp;
  /** Open connections (wrk -c). */
  readonly clients: number;
  /** Operations per request. */
  readonly batch: number;
  /** Operations per second, median of rounds. */
  readonly opsPerSec: number;
  /** Each round's operations per second. */
  readonly rounds: readonly number[];
  /** Failed operations, all rounds. */
  readonly errors: number;
}

const DESCRIPTION =
  "dataset cells { var t [1073741824]int8 }\nfragment cell(r) { var t = t[r:r + 1] }";
/** The description as JSON string content inside a Lua string literal. */
const LUA_DESCRIPTION = JSON.stringify(DESCRIPTION).slice(1, -1).replaceAll("\\", "\\\\");

// The scripts' common part: each wrk thread numbers its requests; an answer
// that is not 2xx counts the request's operations as failed, and a 2xx batch
// answer counts the errors inside it. `done` prints the total on a line of
// its own for the bench to read.
const COMMON = `
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
n = 0
failed = 0
function response(status, headers, body)
  if status < 200 or status > 299 then
    failed = failed + PER
  elseif CHECK then
    local _, c = string.gsub(body, '"error":', "")
    failed = failed + c
  end
end
function done(summary, latency, requests)
  local f = 0
  for _, t in ipairs(threads) do f = f + t:get("failed") end
  io.write("FAILED " .. f .. "\\n")
end
`;

const B64 = `
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
function b64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = string.byte(s, i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = {}
    for k = 3, 0, -1 do
      local x = math.floor(v / 64 ^ k) % 64
      q[#q + 1] = string.sub(b64chars, x + 1, x + 1)
    end
    if b == nil then q[3] = "="; q[4] = "=" elseif c == nil then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  return table.concat(out)
end
`;

/** The Lua script of one point: `tag` keeps its names apart from every other point's. */
function script(op: RegistryWrkOp, batch: number, tag: string): string {
  const head = `PER = ${batch}\nCHECK = ${
    op === "create" && batch === 1 || op.startsWith("etcd") ? "false" : "true"
  }\n${COMMON}`;
  const json = `wrk.headers["Content-Type"] = "application/json"\nwrk.method = "POST"\n`;
  const ops = (one: string) =>
    batch === 1 ? `"{\\"ops\\":[" .. ${one}(0) .. "]}"` : [
      `(function() local t = {}`,
      `for k = 1, ${batch} do t[k] = ${one}(k) end`,
      `return "{\\"ops\\":[" .. table.concat(t, ",") .. "]}" end)()`,
    ].join(" ");
  switch (op) {
    case "create":
      return `${head}${json}
function one(k)
  return '{"op":"create","name":"c-${tag}-' .. tid .. '-' .. n .. '-' .. k .. '","description":"${LUA_DESCRIPTION}"}'
end
function request()
  n = n + 1
  if PER == 1 then
    return wrk.format(nil, "/v1/datasets", nil,
      '{"name":"c-${tag}-' .. tid .. '-' .. n .. '","description":"${LUA_DESCRIPTION}"}')
  end
  return wrk.format(nil, "/v1/batch", nil, ${ops("one")})
end
`;
    case "publish":
      return `${head}${json}
function one(k)
  local r = tid * 536870912 + n * ${batch} + k
  return '{"op":"publish","dataset":"p-${tag}","version":1,"fragment":"cell","bindings":{"r":' .. r .. '},"node":"n1","tier":"memory","byteLength":1,"checksum":0}'
end
function request()
  n = n + 1
  return wrk.format(nil, "/v1/batch", nil, ${ops("one")})
end
`;
    case "lookup": {
      const one =
        `{"op":"lookup","dataset":"l-${tag}","version":"latest","fragment":"cell","bindings":{"r":0}}`;
      return `${head}${json}wrk.path = "/v1/batch"
wrk.body = '{"ops":[${Array(batch).fill(one).join(",")}]}'
`;
    }
    case "etcd put":
      return `${head}${B64}${json}
function put(k)
  return '{"key":"' .. b64("/${tag}/" .. tid .. "/" .. n .. "/" .. k) .. '","value":"' .. b64('{"n":' .. n .. '}') .. '"}'
end
function request()
  n = n + 1
  if PER == 1 then return wrk.format(nil, "/v3/kv/put", nil, put(0)) end
  local t = {}
  for k = 1, PER do t[k] = '{"requestPut":' .. put(k) .. '}' end
  return wrk.format(nil, "/v3/kv/txn", nil, '{"success":[' .. table.concat(t, ",") .. ']}')
end
`;
    case "etcd range": {
      const range = `{"key":"${btoa("/ready")}"}`;
      return `${head}${json}${
        batch === 1
          ? `wrk.path = "/v3/kv/range"\nwrk.body = '${range}'`
          : `wrk.path = "/v3/kv/txn"\nwrk.body = '{"success":[${
            Array(batch).fill(`{"requestRange":${range}}`).join(",")
          }]}'`
      }\n`;
    }
  }
}

async function post(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const out = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(out)}`);
  return out;
}

/** Creates what a point's script needs on the server: its dataset, and a committed copy for lookups. */
async function prepare(url: string, op: RegistryWrkOp, tag: string): Promise<void> {
  const description = DESCRIPTION;
  if (op === "publish") await post(`${url}/v1/datasets`, { name: `p-${tag}`, description });
  if (op === "lookup") {
    await post(`${url}/v1/datasets`, { name: `l-${tag}`, description });
    const { results } = await post(`${url}/v1/batch`, {
      ops: [{
        op: "publish",
        dataset: `l-${tag}`,
        version: 1,
        fragment: "cell",
        bindings: { r: 0 },
        node: "n1",
        tier: "memory",
        byteLength: 1,
        checksum: 0,
      }],
    }) as { results: { error?: unknown }[] };
    if (results[0]?.error !== undefined) throw new Error(JSON.stringify(results[0]));
    await post(`${url}/v1/datasets/l-${tag}/versions/1/commit`, {});
  }
}

/**
 * Waits until a server has finished the requests a run left behind (wrk
 * stops sending, not the server working): three health answers in a row
 * within 5 ms, or 30 s.
 */
async function settle(health: string): Promise<void> {
  const deadline = performance.now() + 30_000;
  let quick = 0;
  while (quick < 3 && performance.now() < deadline) {
    const t0 = performance.now();
    const res = await fetch(health);
    await res.body?.cancel();
    quick = performance.now() - t0 < 5 ? quick + 1 : 0;
    if (quick < 3) await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs wrk with the point's script and returns operations per second and failed operations. */
async function runPoint(
  url: string,
  op: RegistryWrkOp,
  clients: number,
  batch: number,
  tag: string,
): Promise<{ opsPerSec: number; errors: number }> {
  await prepare(url, op, tag);
  const path = `tmp/registry-wrk-${tag}.lua`;
  await Deno.writeTextFile(path, script(op, batch, tag));
  try {
    // Operations in flight at once: a run must last well beyond the time
    // the server takes to answer them all once, or it measures the ramp.
    const backlog = clients * batch;
    const seconds = backlog >= 10_000 ? SECONDS * 4 : SECONDS;
    const run = await wrk(url, { seconds, connections: clients, script: path, timeoutSeconds: 30 });
    const failed = Number(/FAILED (\d+)/.exec(run.output)?.[1] ?? NaN);
    if (!Number.isFinite(failed)) throw new Error(`wrk script printed no total: ${run.output}`);
    return { opsPerSec: run.rps * batch, errors: failed + run.errors * batch };
  } finally {
    await Deno.remove(path);
  }
}

/**
 * Runs the benchmark and writes bench/results/registry_wrk.{json,md,svg}.
 *
 * @example
 * ```ts ignore
 * import { registryWrkBench } from "./registry_wrk_bench.ts";
 * const points = await registryWrkBench();
 * console.log(points.filter((p) => p.op === "lookup" && p.batch === 100));
 * ```
 */
export async function registryWrkBench(): Promise<RegistryWrkPoint[]> {
  await Deno.mkdir("tmp", { recursive: true });
  const etcdDir = await Deno.makeTempDir({ dir: "tmp", prefix: "etcd-" });
  const etcd = await startEtcd(etcdDir);
  const points: RegistryWrkPoint[] = [];
  let run = 0;
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    for (const batch of BATCHES) {
      for (const clients of CLIENTS) {
        // A fresh server per group of points: the creates of one group add
        // hundreds of thousands of datasets, whose memory would weigh on the next.
        if (server !== undefined) {
          await server.stop();
          await Deno.remove(server.dataDir, { recursive: true });
        }
        server = await startServer();
        const ops: RegistryWrkOp[] = ["create", "publish", "lookup", "etcd put", "etcd range"];
        const rounds = new Map(ops.map((o) => [o, [] as number[]]));
        const errors = new Map(ops.map((o) => [o, 0]));
        // Rounds alternate the operations, so that drift of the shared
        // machine falls on Strata and etcd alike.
        for (let r = 0; r < ROUNDS; r++) {
          for (const op of ops) {
            const url = op.startsWith("etcd") ? etcd.url : server.url;
            const tag = `r${run++}`;
            const p = await runPoint(url, op, clients, batch, tag);
            await settle(op.startsWith("etcd") ? `${url}/health` : `${url}/v1/health`);
            rounds.get(op)!.push(p.opsPerSec);
            errors.set(op, errors.get(op)! + p.errors);
          }
        }
        for (const op of ops) {
          const xs = rounds.get(op)!;
          points.push({
            op,
            clients,
            batch,
            opsPerSec: median(xs),
            rounds: xs,
            errors: errors.get(op)!,
          });
          const p = points.at(-1)!;
          console.error(
            `${op.padEnd(10)} x${String(batch).padStart(3)} c${String(clients).padStart(4)}: ${
              Math.round(p.opsPerSec)
            } ops/s (rounds ${xs.map(Math.round).join(", ")}), ${p.errors} failed`,
          );
        }
      }
    }
  } finally {
    await etcd.stop();
    await Deno.remove(etcdDir, { recursive: true });
    if (server !== undefined) {
      await server.stop();
      await Deno.remove(server.dataDir, { recursive: true });
    }
  }
  await writeResults("registry_wrk", points, (machine) => markdown(machine, points));
  return points;
}

function markdown(machine: string, points: readonly RegistryWrkPoint[]): string {
  const at = (op: RegistryWrkOp, batch: number, clients: number) =>
    points.find((p) => p.op === op && p.batch === batch && p.clients === clients);
  const fmt = (x: number | undefined) => x === undefined ? "-" : String(Math.round(x));
  const rows: string[] = [];
  const ratios: string[] = [];
  for (const batch of BATCHES) {
    for (const op of ["create", "publish", "lookup", "etcd put", "etcd range"] as const) {
      const label = `${op}, ${batch === 1 ? "one per request" : `${batch} per request`}`;
      rows.push(
        `| ${label} | ${CLIENTS.map((c) => fmt(at(op, batch, c)?.opsPerSec)).join(" | ")} |`,
      );
    }
    for (const op of ["create", "publish", "lookup"] as const) {
      const peer = op === "lookup" ? "etcd range" : "etcd put";
      const cells = CLIENTS.map((c) => {
        const s = at(op, batch, c)?.opsPerSec;
        const e = at(peer, batch, c)?.opsPerSec;
        return s === undefined || e === undefined ? "-" : `${(s / e).toFixed(2)}x`;
      });
      ratios.push(
        `| ${op} / ${peer}, ${batch === 1 ? "single" : `x${batch}`} | ${cells.join(" | ")} |`,
      );
    }
  }
  const failed = points.reduce((n, p) => n + p.errors, 0);
  const met = points.filter((p) => !p.op.startsWith("etcd") && p.opsPerSec >= GOAL_OPS).length;
  return [
    "# Registry operations under wrk",
    "",
    machine,
    "",
    `One \`strata serve\` (registry on Deno KV on disk, group commit) and one etcd ${"3.4"} (single member, data on the same disk, its defaults: fsync on) running side by side; wrk -t2 with Lua scripts drives both over loopback HTTP/JSON (etcd through its gRPC gateway), ${SECONDS} s per point, ${ROUNDS} rounds alternating the operations, medians. wrk, both servers and nothing else share the 2 cores. Operations per second (requests/s x operations per request). Strata: \`create\` registers a new dataset (\`POST /v1/datasets\`, or 100 creates in \`/v1/batch\`); \`publish\` registers a new copy of one cell (metadata only, durable before the answer) through \`/v1/batch\`; \`lookup\` is an attach's registry lookup of a committed version through \`/v1/batch\`. etcd: \`put\` of a new key (\`/v3/kv/put\`, or 100 puts in one \`/v3/kv/txn\`); \`range\` of one key (linearizable, its default). Failed operations, all points: ${failed}. Goal: at least ${GOAL_OPS} ops/s and 3x etcd for each Strata operation; points at or above ${GOAL_OPS}: ${met} of ${
      points.filter((p) => !p.op.startsWith("etcd")).length
    }.`,
    "",
    `| operation | ${CLIENTS.map((c) => `${c} clients`).join(" | ")} |`,
    `| --- | ${CLIENTS.map(() => "---:").join(" | ")} |`,
    ...rows,
    "",
    `| ratio | ${CLIENTS.map((c) => `${c} clients`).join(" | ")} |`,
    `| --- | ${CLIENTS.map(() => "---:").join(" | ")} |`,
    ...ratios,
    "",
    "## The goal",
    "",
    ...goalLines(points),
    "",
    LIMITS,
    "",
  ].join("\n");
}

/** One line per Strata operation and batch size: met or short, by how much. */
function goalLines(points: readonly RegistryWrkPoint[]): string[] {
  const lines: string[] = [];
  for (const batch of BATCHES) {
    for (const op of ["create", "publish", "lookup"] as const) {
      const peer = op === "lookup" ? "etcd range" : "etcd put";
      const mine = points.filter((p) => p.op === op && p.batch === batch);
      if (mine.length === 0) continue;
      const ratios = mine.map((p) =>
        p.opsPerSec /
        (points.find((e) => e.op === peer && e.batch === batch && e.clients === p.clients)
          ?.opsPerSec ?? NaN)
      );
      const low = Math.min(...mine.map((p) => p.opsPerSec));
      const high = Math.max(...mine.map((p) => p.opsPerSec));
      const lowRatio = Math.min(...ratios);
      const met = low >= GOAL_OPS && lowRatio >= 3;
      lines.push(
        `- ${op}, ${batch === 1 ? "one per request" : `${batch} per request`}: ${
          met ? "met" : "short"
        } (${Math.round(low)}-${Math.round(high)} ops/s against ${GOAL_OPS}; ${
          lowRatio.toFixed(2)
        }x-${Math.max(...ratios).toFixed(2)}x ${peer} against 3x).`,
      );
    }
  }
  return lines;
}

/** What limits the operations that stay short of the goal, as profiled on this machine. */
const LIMITS =
  "What limits them. A create is answered only once the atomic that holds its record is durable; the records of datasets created while an atomic is in flight share one KV row (about 55 to a pack), so Deno KV's row rate (80-130k rows/s on this disk at best, 1000 sets per atomic, nothing else running) no longer bounds creates: their cost is the server's thread (parsing, checking and laying out each description, the garbage collector). The publishes here, cells of one open version, are written in packs of copy records made while an atomic is in flight, one row per pack: in process, without HTTP, they reach 85-96k copies/s (56-61k before a version's copies were summed ahead of any box subtraction, `docs/registry.md`), so the server's thread is their limit. One operation per request is bound by the server's single JavaScript thread, which also runs the HTTP server (it answers `/v1/health` alone at 51-86k requests/s on these cores): profiles of `strata serve` under wrk show half of that thread in the HTTP server's native work per request, the rest in parsing, the registry, the group commit and serialising the KV values. Batched publishes spent a quarter of the thread in the garbage collector before those sums; `/v1/batch` admits 2048 operations at once (further requests wait their turn), which keeps 1,024 clients of 100 from collapsing the rate. Lookups read memory only; batched, they too are bound by that one thread, which shares the 2 cores with wrk and etcd. At 256 and 1,024 clients of 100 the rates fall from round to round (the rounds are in registry_wrk.json): each round leaves hundreds of thousands more datasets and copies in the server's memory (about 390 bytes per dataset, its place in a dataset pack included, and 500 per copy, `deno task bench registry-memory`), and the garbage collector's work grows with them.";

if (import.meta.main) await registryWrkBench();
