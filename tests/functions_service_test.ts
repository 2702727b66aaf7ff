import assert from "node:assert/strict";
import { connect, ServerError } from "../src/client/mod.ts";
import { energies, PARTICLES, particles } from "./_functions.ts";
import { runDeno, startServer } from "./_server.ts";

const STRATA = [
  "run",
  "--allow-net=127.0.0.1",
  "--allow-read=.",
  "--allow-env=LOG_TOKENS,LOG_STREAM",
  "src/cli/main.ts",
];

Deno.test("strata serve deploys, type-checks, sandboxes and runs functions and pipelines", async () => {
  const server = await startServer();
  const url = ["--url", server.url];
  const strata = connect(server.url);
  try {
    // Deploy with the CLI: the server type-checks with deno check and dry-runs.
    const deploy = await runDeno([
      ...STRATA,
      "deploy",
      "functions/histogram.ts",
      "--alias",
      "prod",
      ...url,
    ]);
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.match(deploy.stdout, /^deployed histogram version 1 sha256:[0-9a-f]{64}\n$/);
    const listed = await runDeno([...STRATA, "functions", ...url]);
    assert.equal(listed.stdout, "histogram\tlatest 1\tlatest=1 prod=1\n");

    // A producer publishes rank fragments; the pipeline histograms each version.
    await strata.createDataset("particles", PARTICLES, { retention: 4 });
    await strata.functions.putPipeline("energy", {
      source: "particles",
      function: "histogram",
      use: "prod",
      placement: "in-transit",
      args: { bins: 4, max: 4 },
    });
    const { bytes, u } = particles(1000, 3);
    for (let r = 0; r < 4; r++) {
      await strata.publish("particles", 1, "ranks", bytes.slice(r * 250 * 32, (r + 1) * 250 * 32), {
        params: { lo: r * 250, hi: (r + 1) * 250 },
      });
    }
    let run: Record<string, unknown> | undefined;
    for (let i = 0; i < 500 && run?.state !== "succeeded"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      run = (await strata.functions.pipeline("energy")).runs[0];
    }
    assert.equal(run?.state, "succeeded", JSON.stringify(run));
    assert.equal((run!.placement as Record<string, unknown>).decided, "in-transit");
    const counts = [0, 0, 0, 0];
    let above = 0;
    for (const e of energies(u)) {
      const b = Math.floor(e);
      if (b >= 4) above++;
      else counts[b]!++;
    }
    const result = await strata.functions.result("energy", 1);
    assert.deepEqual(result.value, { bins: 4, max: 4, counts, above, total: 1000 });
    const invoked = await runDeno([
      ...STRATA,
      "invoke",
      "histogram",
      "particles",
      "--each",
      "--args",
      '{"bins":4,"max":4}',
      ...url,
    ]);
    assert.equal(invoked.code, 0, invoked.stderr);
    assert.deepEqual(JSON.parse(invoked.stdout), result.value);

    // A module that does not type-check is refused with the compiler's words.
    await assert.rejects(
      strata.functions.deploy(
        "typo",
        (await Deno.readTextFile("functions/stats.ts")).replace("count++;", 'count = "1";'),
      ),
      (e) => {
        assert.ok(e instanceof ServerError);
        assert.equal(e.status, 400);
        assert.equal(e.code, "invalid_function");
        assert.match(
          e.message,
          /type-check failed: TS2322 \[ERROR\]: Type 'string' is not assignable to type 'number'/,
        );
        return true;
      },
    );

    // Under the service's own narrow permissions, a function still gets none,
    // and filling a 4 GiB allocation fails its call without harming the service.
    const sneaky =
      `export const input = \`dataset { type P struct { ux float32 }; var n int64; var p [n]P }
fragment m(lo, hi) columnar { var u { ux } = p[lo:hi] }\`;
export const output = "value";
export const sample = { n: 8, lo: 0, hi: 8 };
export function run(_i: unknown, ctx: { dryRun: boolean; args: unknown }) {
  if (ctx.dryRun) return 0;
  if (ctx.args === "read") return Deno.readTextFileSync("data/registry.kv").length;
  return new Uint8Array(4 * 2 ** 30).fill(1).length;
}`;
    await strata.functions.deploy("sneaky", sneaky);
    await assert.rejects(
      strata.functions.invoke("sneaky", "particles", { params: { lo: 0, hi: 10 }, args: "read" }),
      (e) =>
        e instanceof ServerError && e.status === 422 && e.message.includes("Requires read access"),
    );
    await assert.rejects(
      strata.functions.invoke("sneaky", "particles", { params: { lo: 0, hi: 10 } }),
      (e) =>
        e instanceof ServerError && e.code === "limit_exceeded" &&
        e.message.includes("memory limit"),
    );
    const health = await fetch(`${server.url}/v1/health`);
    assert.equal((await health.json()).status, "ok");
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});

Deno.test("strata serve keeps functions, aliases and pipelines across a restart", async () => {
  const first = await startServer();
  const url = ["--url", first.url];
  const sum = `export const input = "dataset { var x [4]float64 }\\nfragment all { var x = x }";
export const output = "value";
export function run(input: { x: Float64Array }) { return input.x.reduce((a, b) => a + b, 0) * FACTOR; }
const FACTOR = 1;
`;
  let second: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const strata = connect(first.url);
    await strata.createDataset("tiny", "dataset tiny { var x [4]float64 }", { durable: true });
    await strata.functions.deploy("sum", sum, { aliases: ["prod"] });
    await strata.functions.deploy("sum", sum.replace("FACTOR = 1", "FACTOR = 10"));
    const alias = await runDeno([...STRATA, "alias", "sum", "prod", "2", ...url]);
    assert.equal(alias.stdout, "sum prod -> version 2\n", alias.stderr);
    const created = await runDeno([
      ...STRATA,
      "pipeline",
      "total",
      "--source",
      "tiny",
      "--function",
      "sum",
      "--use",
      "prod",
      ...url,
    ]);
    assert.equal(created.code, 0, created.stderr);
    await first.stop();

    second = await startServer({ dataDir: first.dataDir });
    const again = connect(second.url);
    await again.publish("tiny", 1, "dataset", new Float64Array([1, 2, 3, 4]));
    let state = "";
    for (let i = 0; i < 500 && state !== "succeeded"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      state = String((await again.functions.pipeline("total")).runs[0]?.state);
    }
    assert.equal(state, "succeeded");
    const result = await again.functions.result("total", 1);
    assert.equal(result.value, 100);
    assert.deepEqual(
      (result.lineage as { function: { version: number } }).function.version,
      2,
    );
    const shown = await runDeno([...STRATA, "pipeline", "total", "--url", second.url]);
    assert.equal(JSON.parse(shown.stdout).runs[0].state, "succeeded");
    const d = await again.functions.describe("sum");
    assert.deepEqual(d.aliases, { latest: 2, prod: 2 });
  } finally {
    if (second !== undefined) await second.stop();
    else await first.stop().catch(() => {});
    await Deno.remove(first.dataDir, { recursive: true });
  }
});
