/**
 * Small operations at wire speed: requests per second of one `strata serve`
 * under wrk (a compiled load generator, Debian package `wrk`) with 64
 * connections, for `GET /v1/health` (the floor: the HTTP stack with no
 * work) and attaches of a tiny committed fragment (128 bytes), one per
 * request, by version number and as `latest`. The targets alternate in
 * rounds so that drift of the shared machine falls on all of them; the
 * ratio to health is taken within each round, then the median.
 *
 * Run: `deno run --allow-net=127.0.0.1 --allow-read=. --allow-write=./tmp,./bench/results --allow-run=deno,wrk --allow-env=LOG_TOKENS,LOG_STREAM bench/wrk_bench.ts [rounds] [seconds]`
 *
 * @module
 */

import { spawnTool } from "./_tools.ts";
import { startServer } from "../tests/_server.ts";
import { writeResults } from "./_results.ts";

const ROUNDS = import.meta.main ? Number(Deno.args[0] ?? 5) : 5;
const SECONDS = import.meta.main ? Number(Deno.args[1] ?? 3) : 3;
const CONNECTIONS = 64;

/** One wrk run's outcome. */
export interface WrkRun {
  /** Requests per second. */
  readonly rps: number;
  /** Requests answered with a status other than 2xx or 3xx. */
  readonly non2xx: number;
  /** Socket errors (connect, read, write, timeout). */
  readonly errors: number;
  /** wrk's report, with what a Lua script's `done` printed. */
  readonly output: string;
}

/** Runs wrk on `url` (with a Lua `script` when given) and parses its report. */
export async function wrk(
  url: string,
  options: { seconds?: number; connections?: number; script?: string; timeoutSeconds?: number } =
    {},
): Promise<WrkRun> {
  const args = [
    "-t2",
    `-c${options.connections ?? CONNECTIONS}`,
    `-d${options.seconds ?? SECONDS}s`,
    ...(options.script === undefined ? [] : ["-s", options.script]),
    ...(options.timeoutSeconds === undefined ? [] : ["--timeout", `${options.timeoutSeconds}s`]),
    url,
  ];
  const out = await spawnTool("wrk", "wrk", { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  if (!out.success || !Number.isFinite(rps)) {
    throw new Error(`wrk failed: ${text}${new TextDecoder().decode(out.stderr)}`);
  }
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const m = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = m === null ? 0 : m.slice(1).reduce((a, b) => a + Number(b), 0);
  return { rps, non2xx, errors, output: text };
}

/** The median of `xs`. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Round {
  readonly health: WrkRun;
  readonly attach: WrkRun;
  readonly latest: WrkRun;
}

/**
 * Small attaches against `/v1/health` under wrk: writes
 * bench/results/wrk.{md,json}.
 */
export async function wrkBench(): Promise<void> {
  const server = await startServer();
  try {
    const created = await fetch(`${server.url}/v1/datasets`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "tiny", description: "dataset tiny { var x [16]float64 }" }),
    });
    if (!created.ok) throw new Error(`create: ${created.status} ${await created.text()}`);
    const bytes = new Uint8Array(new Float64Array(16).map((_, i) => i * 0.5).buffer);
    const published = await fetch(`${server.url}/v1/datasets/tiny/versions/1/fragments/dataset`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
    });
    if (!published.ok) throw new Error(`publish: ${published.status} ${await published.text()}`);
    await published.body?.cancel();
    const attachUrl = `${server.url}/v1/datasets/tiny/versions/1/fragments/dataset`;
    const got = new Uint8Array(await (await fetch(attachUrl)).arrayBuffer());
    if (got.length !== bytes.length || got.some((b, i) => b !== bytes[i])) {
      throw new Error("attach answered other bytes than published");
    }
    const rounds: Round[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const health = await wrk(`${server.url}/v1/health`);
      const attach = await wrk(attachUrl);
      const latest = await wrk(`${server.url}/v1/datasets/tiny/versions/latest/fragments/dataset`);
      rounds.push({ health, attach, latest });
      console.error(
        `round ${r + 1}: health ${health.rps.toFixed(0)}, attach ${attach.rps.toFixed(0)}, latest ${
          latest.rps.toFixed(0)
        } req/s`,
      );
    }
    const bad = rounds.flatMap((x) => [x.health, x.attach, x.latest])
      .reduce((n, w) => n + w.non2xx + w.errors, 0);
    const summary = {
      connections: CONNECTIONS,
      seconds: SECONDS,
      health: median(rounds.map((x) => x.health.rps)),
      attach: median(rounds.map((x) => x.attach.rps)),
      latest: median(rounds.map((x) => x.latest.rps)),
      attachRatio: median(rounds.map((x) => x.attach.rps / x.health.rps)),
      latestRatio: median(rounds.map((x) => x.latest.rps / x.health.rps)),
      failedRequests: bad,
    };
    await writeResults("wrk", [{ summary, rounds }], (machineLine) =>
      [
        "# Small attaches under wrk",
        "",
        machineLine,
        "",
        `One \`strata serve\`, wrk -t2 -c${CONNECTIONS} -d${SECONDS}s on loopback (wrk and the server share the 2 cores), ${ROUNDS} rounds of health, attach by version, attach of latest in turn; medians, the ratio taken within each round. The fragment: 128 bytes (16 float64), checked byte for byte before the runs. Failed requests (non-2xx, socket errors): ${bad}. Goal: attach >= 0.5x health.`,
        "",
        "| request | req/s (median) | vs /v1/health (median of rounds) |",
        "| ------- | -------------: | -------------------------------: |",
        `| GET /v1/health | ${Math.round(summary.health)} | 1.00x |`,
        `| attach, version 1 | ${Math.round(summary.attach)} | ${
          summary.attachRatio.toFixed(2)
        }x |`,
        `| attach, latest | ${Math.round(summary.latest)} | ${summary.latestRatio.toFixed(2)}x |`,
        "",
        "| round | health | attach | latest |",
        "| ----: | -----: | -----: | -----: |",
        ...rounds.map((x, i) =>
          `| ${i + 1} | ${Math.round(x.health.rps)} | ${Math.round(x.attach.rps)} | ${
            Math.round(x.latest.rps)
          } |`
        ),
        "",
      ].join("\n"));
  } finally {
    await server.stop();
  }
}

if (import.meta.main) await wrkBench();
