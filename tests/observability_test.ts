/**
 * What a cluster shows of itself: every process's `/metrics` passes
 * `promtool check metrics`; a real Prometheus on loopback scrapes a name
 * server and two runtimes and sees a Strata series move; headless Chromium
 * opens a runtime's dashboard and finds the dataset and the nodes on it.
 *
 * Prometheus (`promtool`, `prometheus`) and Chromium are Debian packages
 * (`prometheus`, `chromium`) that .ci/run installs; a test whose program is
 * missing prints a WARNING line and skips.
 */
import assert from "node:assert/strict";
import { connect } from "../src/client/mod.ts";
import { freePort, type Proc, startNameserver, startRuntime } from "./_cluster.ts";

const ROWS = 256;
const GRID = `dataset grid {
  type Cell struct { t, u float64 }
  var c [${4 * ROWS * 32}]Cell
}
fragment rows(r0, r1) { var c = c[r0:r1] }
fragment cols columnar { var c { t float32 } = c }`;

/** The first of `names` on PATH (or an absolute path that exists), else undefined. */
async function which(...names: string[]): Promise<string | undefined> {
  for (const name of names) {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "piped",
      stderr: "null",
    }).output().catch(() => undefined);
    const path = out?.success ? new TextDecoder().decode(out.stdout).trim() : "";
    if (path !== "") return name;
  }
  return undefined;
}

/** Cells `r0 * 32` to `r1 * 32` of step `step`, as the array of structs. */
function rows(r0: number, r1: number, step: number): Uint8Array {
  const a = new Float64Array((r1 - r0) * 64);
  for (let i = 0; i < a.length; i++) a[i] = step * 1e6 + r0 * 64 + i;
  return new Uint8Array(a.buffer);
}

/** Publishes version `v` of grid on runtime `url` (4 row blocks), and attaches it from `other`. */
async function step(url: string, other: string, v: number): Promise<void> {
  const client = connect(url);
  for (let p = 0; p < 4; p++) {
    await client.publish("grid", v, "rows", rows(p * ROWS, (p + 1) * ROWS, v), {
      params: { r0: p * ROWS * 32, r1: (p + 1) * ROWS * 32 },
    });
  }
  const res = await fetch(`${other}/v1/datasets/grid/versions/${v}/fragments/cols`);
  assert.equal(res.status, 200);
  assert.equal((await res.arrayBuffer()).byteLength, 4 * ROWS * 32 * 4);
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

Deno.test("observability: metrics pass promtool, Prometheus scrapes a cluster, the dashboard shows it", async (t) => {
  const ns = await startNameserver();
  const procs: Proc[] = [ns];
  try {
    const a = await startRuntime("alpha", [ns]);
    procs.push(a);
    const b = await startRuntime("beta", [ns]);
    procs.push(b);
    await connect(a.url).createDataset("grid", GRID, { retention: 3 });
    await step(a.url, b.url, 1);

    await t.step("every process answers /metrics with the series of its parts", async () => {
      const text = await (await fetch(`${a.url}/metrics`)).text();
      assert.match(text, /^strata_tier_capacity_bytes\{node="alpha",tier="memory"\} \d+/m);
      assert.match(text, /^strata_published_bytes_total [1-9]\d*$/m);
      assert.match(text, /^strata_wire_bytes_total\{direction="sent"\} [1-9]\d*$/m);
      const beta = await (await fetch(`${b.url}/metrics`)).text();
      assert.match(beta, /^strata_wire_bytes_total\{direction="received"\} [1-9]\d*$/m);
      assert.match(beta, /^strata_reshaped_bytes_total [1-9]\d*$/m);
      const names = await (await fetch(`${ns.url}/metrics`)).text();
      assert.match(names, /^strata_node_leases\{state="up"\} 2$/m);
      assert.match(names, /^strata_versions_committed_total\{dataset="grid"\} 1$/m);
      assert.match(names, /^strata_dataset_latest_version\{dataset="grid"\} 1$/m);
      // No subscriber: no small copy's bytes kept for notices.
      assert.match(names, /^strata_inline_copies 0$/m);
      assert.match(names, /^strata_inline_bytes 0$/m);
    });

    await t.step("promtool check metrics passes on every process's output", async (t) => {
      const promtool = await which("promtool");
      if (promtool === undefined) {
        console.warn(
          "WARNING: promtool (Debian package prometheus) not found: promtool check skipped",
        );
        return;
      }
      for (const [name, p] of [["name server", ns], ["runtime alpha", a], ["runtime beta", b]]) {
        await t.step(name as string, async () => {
          const text = await (await fetch(`${(p as Proc).url}/metrics`)).text();
          const child = new Deno.Command(promtool, {
            args: ["check", "metrics"],
            stdin: "piped",
            stdout: "piped",
            stderr: "piped",
          }).spawn();
          const w = child.stdin.getWriter();
          await w.write(new TextEncoder().encode(text));
          await w.close();
          const out = await child.output();
          const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
          assert.equal(out.code, 0, said);
          assert.equal(said.trim(), "", said);
        });
      }
    });

    await t.step("a Prometheus server scrapes the cluster and sees a series move", async () => {
      const prometheus = await which("prometheus");
      if (prometheus === undefined) {
        console.warn(
          "WARNING: prometheus (Debian package prometheus) not found: scrape test skipped",
        );
        return;
      }
      const dir = await Deno.makeTempDir({ dir: "tmp", prefix: "prometheus_" });
      const port = freePort();
      const targets = [ns, a, b].map((p) => `"127.0.0.1:${p.port}"`).join(", ");
      await Deno.writeTextFile(
        `${dir}/prometheus.yml`,
        `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n` +
          `scrape_configs:\n  - job_name: strata\n    static_configs:\n      - targets: [${targets}]\n`,
      );
      const child = new Deno.Command(prometheus, {
        args: [
          `--config.file=${dir}/prometheus.yml`,
          `--storage.tsdb.path=${dir}/data`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        const api = `http://127.0.0.1:${port}`;
        await until("Prometheus to be ready", 30_000, async () => {
          const r = await fetch(`${api}/-/ready`);
          await r.body?.cancel();
          return r.ok ? true : undefined;
        });
        const query = async (q: string) => {
          const r = await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(q)}`))
            .json() as {
              data: { result: { metric: Record<string, string>; value: [number, string] }[] };
            };
          return r.data.result;
        };
        const series = 'strata_published_bytes_total{instance="127.0.0.1:' + a.port + '"}';
        const before = await until("a scrape of runtime alpha", 30_000, async () => {
          const r = await query(series);
          return r.length === 1 ? Number(r[0]!.value[1]) : undefined;
        });
        assert.ok(before > 0);
        // Every target is up.
        await until("all three targets up", 30_000, async () => {
          const up = await query("up == 1");
          return up.length === 3 ? true : undefined;
        });
        await step(a.url, b.url, 2);
        const after = await until("the series to move", 30_000, async () => {
          const r = await query(series);
          const v = r.length === 1 ? Number(r[0]!.value[1]) : 0;
          return v > before ? v : undefined;
        });
        assert.equal(after - before, 4 * ROWS * 64 * 8);
        const commits = await until("the name server's commits", 30_000, async () => {
          const r = await query('strata_versions_committed_total{dataset="grid"}');
          return r.length === 1 && Number(r[0]!.value[1]) === 2 ? r : undefined;
        });
        assert.equal(commits[0]!.metric.instance, `127.0.0.1:${ns.port}`);
      } finally {
        child.kill("SIGTERM");
        await child.status;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    });

    await t.step(
      "headless Chromium opens the dashboard and finds the dataset and nodes",
      async () => {
        const chromium = await which("chromium", "chromium-browser", "google-chrome");
        if (chromium === undefined) {
          console.warn(
            "WARNING: chromium (Debian package chromium) not found: dashboard test skipped",
          );
          return;
        }
        // Traffic while the page watches, so the charts have something to draw.
        let v = 3;
        const traffic = setInterval(() => {
          step(a.url, b.url, v++).catch(() => {});
        }, 400);
        const profile = await Deno.makeTempDir({ dir: "tmp", prefix: "chromium_" });
        const flags = [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--hide-scrollbars",
          `--user-data-dir=${Deno.realPathSync(profile)}`,
          "--window-size=1400,1000",
          // Runs the page's timers ahead: scrapes and refreshes happen in it.
          "--virtual-time-budget=15000",
        ];
        try {
          const run = async (extra: string[]) => {
            const out = await new Deno.Command(chromium, {
              args: [...flags, ...extra, `${b.url}/ui`],
              stdout: "piped",
              stderr: "null",
            }).output();
            assert.equal(out.code, 0, `${chromium} exited with ${out.code}`);
            return new TextDecoder().decode(out.stdout);
          };
          const dom = await run(["--dump-dom"]);
          assert.match(dom, /data-ready="true"/);
          assert.match(dom, /<td>grid<\/td>/);
          assert.match(dom, /<b>alpha<\/b>/);
          assert.match(dom, /<b>beta<\/b>/);
          assert.match(dom, /class="uplot/);
          const shot = `${Deno.realPathSync("tmp")}/dashboard.png`;
          await Deno.remove(shot).catch(() => {});
          await run([`--screenshot=${shot}`]);
          const png = await Deno.readFile(shot);
          assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
          assert.ok(png.byteLength > 10_000, `screenshot of ${png.byteLength} bytes`);
        } finally {
          clearInterval(traffic);
          await Deno.remove(profile, { recursive: true }).catch(() => {});
        }
      },
    );
  } finally {
    for (const p of procs.reverse()) await p.stop();
  }
});
