/**
 * The `strata` command as a new user meets it: help, one-line failures,
 * `STRATA_URL`, `delete` and pipelines over a deleted source, against real
 * `strata serve` processes.
 */
import assert from "node:assert/strict";
import { connect, ServerError } from "../src/client/mod.ts";
import { runDeno, startServer } from "./_server.ts";
import { freePort } from "./_cluster.ts";
import { silentServer } from "../src/http/_testing.ts";

/** The `deno task strata` command line. */
const STRATA = [
  "run",
  "--allow-net=127.0.0.1",
  "--allow-read",
  "--allow-env=STRATA_URL,LOG_TOKENS,LOG_STREAM",
  "src/cli/main.ts",
];

async function strata(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command("deno", {
    args: [...STRATA, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** One line on stderr, starting with `strata: `, with no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /^strata: /);
  assert.doesNotMatch(stderr, /Uncaught|\n\s+at /);
  return lines[0]!;
}

Deno.test("strata --help, COMMAND --help and -h print usage and exit 0", async () => {
  const all = await strata(["--help"]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /^Usage: strata COMMAND/);
  assert.match(all.stdout, /strata delete DATASET \[--force\]/);
  assert.match(all.stdout, /STRATA_URL/);
  for (const flag of ["--help", "-h"]) {
    const one = await strata(["attach", flag]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^Usage: strata attach DATASET FRAGMENT/);
  }
  const serve = await strata(["serve", "--help"]);
  assert.match(serve.stdout, /--port PORT/);
});

Deno.test("strata names an unknown option and shows the command's usage", async () => {
  const r = await strata(["attach", "particles", "xyz", "--colour", "red"]);
  assert.equal(r.code, 2);
  assert.equal(
    oneLine(r.stderr),
    "strata: Unknown option '--colour' for 'attach': usage: strata attach DATASET FRAGMENT [--version N|latest] [--wait MS] [--bind NAME=VALUE ...] > FILE",
  );
  const other = await strata(["ls", "--each"]);
  assert.equal(oneLine(other.stderr), "strata: Unknown option '--each' for 'ls': usage: strata ls");
});

Deno.test("strata fails in one line when the server is not reachable, naming the URL", async () => {
  const port = freePort();
  const r = await strata(["ls", "--url", `http://127.0.0.1:${port}`]);
  assert.equal(r.code, 1);
  assert.equal(
    oneLine(r.stderr),
    `strata: Cannot reach a Strata server at http://127.0.0.1:${port} (connection refused): start one with 'deno task start' (or 'strata serve --port PORT'), or point --url or STRATA_URL at a running one`,
  );
  const env = await strata(["nodes"], { STRATA_URL: `http://127.0.0.1:${port}` });
  assert.match(oneLine(env.stderr), new RegExp(`at http://127\\.0\\.0\\.1:${port} `));
});

Deno.test("strata fails in one line on a missing file and on a file it may not read", async () => {
  const missing = await strata(["check", "/nonexistent/x.ddl"]);
  assert.equal(missing.code, 1);
  assert.equal(oneLine(missing.stderr), "strata: Cannot read '/nonexistent/x.ddl': no such file");
  const narrow = await runDeno([
    "run",
    "--allow-read=src",
    "src/cli/main.ts",
    "check",
    "examples/particles.ddl",
  ]);
  assert.equal(narrow.code, 1);
  assert.match(
    oneLine(narrow.stderr),
    /^strata: Cannot read 'examples\/particles.ddl': this deno process may not read it; run strata with --allow-read=examples\/particles.ddl/,
  );
});

Deno.test("strata serve on a busy port names the port and how to choose another", async () => {
  const server = await startServer();
  try {
    const port = new URL(server.url).port;
    const dir = `${server.dataDir}/second`;
    const r = await runDeno([
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=config,${server.dataDir}`,
      `--allow-write=${server.dataDir}`,
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      "--allow-run=deno,sh",
      "src/cli/main.ts",
      "serve",
      "--port",
      port,
      "--data-dir",
      dir,
    ]);
    assert.equal(r.code, 1);
    assert.equal(
      oneLine(r.stderr),
      `strata: Cannot listen on 127.0.0.1:${port}: port ${port} is in use (another Strata?); start with --port PORT (0: any free port) or set 'listen.port' in the config`,
    );
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});

const SUM = `export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }";
export const output = "value";
export function run(input: { x: Float64Array }) { return input.x.reduce((a, b) => a + b, 0); }
`;

async function runs(url: string, pipeline: string, count: number) {
  const client = connect(url);
  let status = await client.functions.pipeline(pipeline);
  const done = (s: typeof status) => {
    const list = s.runs as { state: string }[];
    return list.length >= count && list.every((r) => r.state !== "running");
  };
  for (let i = 0; i < 1000 && !done(status); i++) {
    await new Promise((r) => setTimeout(r, 10));
    status = await client.functions.pipeline(pipeline);
  }
  return status as unknown as {
    runs: { version: number; state: string }[];
    deletedSourceRuns: {
      version: number;
      state: string;
      deletedSource?: { createdAt: number; deletedAt: number };
    }[];
  };
}

Deno.test("strata delete: a pipeline's source answers 409 naming it, --force stops it, runs stay apart", async () => {
  const server = await startServer();
  const url = ["--url", server.url];
  const client = connect(server.url);
  try {
    await client.functions.deploy("sum", SUM);
    // A pipeline refuses a source that does not exist.
    await assert.rejects(
      client.functions.putPipeline("total", { source: "tiny", function: "sum" }),
      (e) =>
        e instanceof ServerError && e.status === 404 &&
        e.message ===
          "Cannot create pipeline 'total': its source dataset 'tiny' does not exist; create it first",
    );
    const tiny = "dataset tiny { var x [4]float64 }";
    await client.createDataset("tiny", tiny);
    await client.functions.putPipeline("total", { source: "tiny", function: "sum" });
    await client.publish("tiny", 1, "dataset", new Float64Array([1, 2, 3, 4]));
    assert.deepEqual((await runs(server.url, "total", 1)).runs.map((r) => r.state), [
      "succeeded",
    ]);

    const refused = await strata(["delete", "tiny", ...url]);
    assert.equal(refused.code, 1);
    assert.equal(
      oneLine(refused.stderr),
      "strata: Cannot delete dataset 'tiny': pipeline 'total' reads it; delete the pipeline first, or delete with force (strata delete --force, ?force=true) to stop its runs",
    );
    assert.equal((await client.versions("tiny")).length, 1);

    const forced = await strata(["delete", "tiny", "--force", ...url]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.stdout, "deleted tiny\n");
    await assert.rejects(client.versions("tiny"), /Unknown dataset 'tiny'/);

    // Created again: version 1 is another dataset's, and its run is apart.
    await client.createDataset("tiny", tiny);
    await client.publish("tiny", 1, "dataset", new Float64Array([10, 20, 30, 40]));
    const status = await runs(server.url, "total", 1);
    assert.deepEqual(status.runs.map((r) => [r.version, r.state]), [[1, "succeeded"]]);
    assert.deepEqual(status.deletedSourceRuns.map((r) => [r.version, r.state]), [
      [1, "succeeded"],
    ]);
    assert.ok(status.deletedSourceRuns[0]!.deletedSource!.deletedAt > 0);
    assert.equal((await client.functions.result("total", 1)).value, 100);

    // A dataset no pipeline reads is deleted at once.
    await client.createDataset("spare", tiny.replace("tiny", "spare"));
    const plain = await strata(["delete", "spare", ...url]);
    assert.equal(plain.code, 0, plain.stderr);
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});

Deno.test("strata invoke --each --wait waits for the version, and strata honours STRATA_URL", async () => {
  const server = await startServer();
  const client = connect(server.url);
  const env = { STRATA_URL: server.url };
  try {
    await client.createDataset(
      "halves",
      "dataset halves { var x [4]float64 }\nfragment part(lo, hi) { var x = x[lo:hi] }",
    );
    const fn =
      `export const input = "dataset { var x [4]float64 }\\nfragment part(lo, hi) { var x = x[lo:hi] }";
export const output = "value";
export const sample = { lo: 0, hi: 2 };
export function run(input: { x: Float64Array }) { return input.x.reduce((a, b) => a + b, 0); }
export function merge(a: number, b: number) { return a + b; }
`;
    await client.functions.deploy("total", fn);
    const invoked = strata(
      ["invoke", "total", "halves", "--each", "--version", "1", "--wait", "20000"],
      env,
    );
    await new Promise((r) => setTimeout(r, 300));
    await client.publish("halves", 1, "part", new Float64Array([1, 2]), {
      params: { lo: 0, hi: 2 },
    });
    await client.publish("halves", 1, "part", new Float64Array([3, 4]), {
      params: { lo: 2, hi: 4 },
    });
    const r = await invoked;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "10\n");
    const versions = await strata(["versions", "halves"], env);
    assert.equal(versions.stdout, "1\tcommitted\t2 fragments\t32 bytes\n");
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});

Deno.test("strata --timeout fails a call a stopped server leaves unanswered, in one line", async () => {
  await using silent = silentServer();
  for (const command of [["ls"], ["functions"]]) {
    const r = await strata([...command, "--url", silent.url, "--timeout", "0.3"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(oneLine(r.stderr), /did not answer within 300 ms/);
  }
  const bad = await strata(["ls", "--url", silent.url, "--timeout", "soon"]);
  assert.equal(bad.code, 1);
  assert.match(oneLine(bad.stderr), /Invalid --timeout 'soon': expected seconds/);
  const stray = await strata(["check", "x.ddl", "--timeout", "3"]);
  assert.equal(stray.code, 2);
  assert.match(oneLine(stray.stderr), /Unknown option '--timeout' for 'check'/);
});
