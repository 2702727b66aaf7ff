/**
 * What a small call costs its caller: `fetch()` against Strata's
 * `HttpAgent` (src/http/agent.ts), and a hand-written HTTP/1.1 loop over
 * one `Deno.connect` connection as the floor, each POSTing 100 bytes and
 * reading a 100-byte answer from a `Deno.serve` server in another process,
 * one request at a time and 64 in flight. Reported: requests per second,
 * and the client process's CPU per request (user + system, Node's
 * `process.cpuUsage()`), the figure that matters when the client shares its
 * node's cores with a simulation, a server and other clients. The three
 * take turns over rounds; medians.
 *
 * Run: `deno task bench http-agent`, or this file with the bench task's permissions.
 *
 * @module
 */

import process from "node:process";
import { HttpAgent } from "../src/http/agent.ts";
import { writeResults } from "./_results.ts";

const REQUESTS = 20_000;
const ROUNDS = 3;
const BODY = 100;

/** A measured client. */
export type AgentClient = "fetch()" | "HttpAgent" | "one raw connection";

/** One point: a client at a concurrency, medians of the rounds. */
export interface AgentPoint {
  /** Which client. */
  readonly client: AgentClient;
  /** Requests in flight. */
  readonly inFlight: number;
  /** Requests per second. */
  readonly rps: number;
  /** The client process's CPU per request, µs. */
  readonly cpuUs: number;
}

/** CPU seconds this process has used (user + system). */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** The server: answers every request with BODY bytes, in its own process. */
async function serve(): Promise<void> {
  const body = new Uint8Array(BODY);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => console.log(port),
  }, async (req) => {
    await req.arrayBuffer();
    return new Response(body);
  });
  // Until the benchmark closes our standard input.
  for await (const _ of Deno.stdin.readable);
  await server.shutdown();
}

/** POSTs over one connection written by hand: the floor of a client's cost. */
async function rawLoop(port: number, n: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const head = new TextEncoder().encode(
    `POST /x HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-length: ${BODY}\r\n\r\n`,
  );
  const req = new Uint8Array(head.length + BODY);
  req.set(head);
  const buf = new Uint8Array(64 * 1024);
  try {
    for (let i = 0; i < n; i++) {
      await conn.write(req);
      let got = 0;
      let need = -1;
      while (need < 0 || got < need) {
        const r = await conn.read(buf.subarray(got));
        if (r === null) throw new Error("The server closed the connection");
        got += r;
        if (need < 0) {
          const text = new TextDecoder().decode(buf.subarray(0, got));
          const end = text.indexOf("\r\n\r\n");
          if (end >= 0) need = end + 4 + Number(/content-length: (\d+)/i.exec(text)![1]);
        }
      }
    }
  } finally {
    conn.close();
  }
}

async function measure(
  client: AgentClient,
  port: number,
  inFlight: number,
  agent: HttpAgent,
): Promise<{ rps: number; cpuUs: number }> {
  const url = `http://127.0.0.1:${port}/x`;
  const body = new Uint8Array(BODY);
  const per = Math.floor(REQUESTS / inFlight);
  const one = async () => {
    if (client === "one raw connection") return await rawLoop(port, per);
    for (let i = 0; i < per; i++) {
      const init = { method: "POST", body };
      const res = client === "fetch()" ? await fetch(url, init) : await agent.fetch(url, init);
      if ((await res.arrayBuffer()).byteLength !== BODY) throw new Error("Short answer");
    }
  };
  const c0 = cpuSeconds();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, one));
  const seconds = (performance.now() - t0) / 1000;
  const n = per * inFlight;
  return { rps: n / seconds, cpuUs: (cpuSeconds() - c0) * 1e6 / n };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs the benchmark and writes bench/results/http_agent.{json,md}. */
export async function httpAgentBench(): Promise<AgentPoint[]> {
  const server = new Deno.Command("deno", {
    args: ["run", "--allow-net=127.0.0.1", "bench/http_agent_bench.ts", "serve"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const line = await server.stdout.pipeThrough(new TextDecoderStream()).getReader().read();
  const port = Number(line.value);
  const agent = new HttpAgent();
  const clients: AgentClient[] = ["fetch()", "HttpAgent", "one raw connection"];
  const runs = new Map<string, { rps: number; cpuUs: number }[]>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const inFlight of [1, 64]) {
        for (const client of clients) {
          // One connection carries one request at a time.
          if (client === "one raw connection" && inFlight > 1) continue;
          const r = await measure(client, port, inFlight, agent);
          const key = `${client}|${inFlight}`;
          runs.set(key, [...runs.get(key) ?? [], r]);
          console.error(
            `http agent bench: ${client}, ${inFlight} in flight: ${r.rps.toFixed(0)} req/s, ${
              r.cpuUs.toFixed(1)
            } µs CPU each`,
          );
        }
      }
    }
  } finally {
    await agent.close();
    await server.stdin.close();
    await server.status;
  }
  const points: AgentPoint[] = [...runs].map(([key, rs]) => {
    const [client, inFlight] = key.split("|") as [AgentClient, string];
    return {
      client,
      inFlight: Number(inFlight),
      rps: median(rs.map((r) => r.rps)),
      cpuUs: median(rs.map((r) => r.cpuUs)),
    };
  });
  const fetched = (k: number) => points.find((p) => p.client === "fetch()" && p.inFlight === k)!;
  await writeResults("http_agent", points, (machineLine) =>
    `# What a small call costs its caller

${machineLine}

POST of ${BODY} bytes answered with ${BODY} bytes by a \`Deno.serve\` server in another process on
loopback; ${REQUESTS} requests a round, ${ROUNDS} rounds taking turns, medians. CPU: the client
process's user + system time per request (\`process.cpuUsage()\`), all its threads.

| client | in flight | requests/s | client CPU µs / request | CPU vs fetch() |
| --- | ---: | ---: | ---: | ---: |
${
      points.map((p) =>
        `| ${p.client} | ${p.inFlight} | ${p.rps.toFixed(0)} | ${p.cpuUs.toFixed(1)} | ${
          (p.cpuUs / fetched(p.inFlight).cpuUs).toFixed(2)
        }x |`
      ).join("\n")
    }
`);
  return points;
}

if (import.meta.main) {
  if (Deno.args[0] === "serve") await serve();
  else await httpAgentBench();
}
