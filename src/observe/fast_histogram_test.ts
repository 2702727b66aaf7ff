import assert from "node:assert/strict";
import { Histogram, Registry } from "prom-client";
import { FastHistogram } from "./fast_histogram.ts";

const BUCKETS = [0.001, 0.01, 0.1, 1];

/** A prom-client histogram and a FastHistogram of the same configuration, each in a registry. */
function pair(labelNames: string[]) {
  const a = new Registry();
  const b = new Registry();
  const config = { name: "x_seconds", help: "x", labelNames, buckets: BUCKETS };
  return {
    prom: new Histogram({ ...config, registers: [a] }),
    fast: new FastHistogram({ ...config, registers: [b] }),
    texts: async (): Promise<[string, string]> => [await a.metrics(), await b.metrics()],
  };
}

/** A small deterministic generator, so a failure repeats. */
function random(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

Deno.test("FastHistogram writes what prom-client's histogram writes for the same samples", async () => {
  const next = random(7);
  const { prom, fast, texts } = pair(["method", "route", "status"]);
  const routes = ["/v1/datasets", "/v1/datasets/:name", "/v1/batch"];
  for (let i = 0; i < 5000; i++) {
    const labels = {
      method: next() < 0.5 ? "GET" : "POST",
      route: routes[Math.floor(next() * routes.length)]!,
      status: next() < 0.9 ? "200" : "404",
    };
    // On bounds, between them, below the first and past the last.
    const r = next();
    const value = r < 0.2 ? BUCKETS[Math.floor(next() * 4)]! : r < 0.25 ? 3 : next() * 0.2;
    prom.observe(labels, value);
    fast.observe({ ...labels }, value);
  }
  const [a, b] = await texts();
  assert.equal(b, a);
  assert.match(b, /x_seconds_bucket\{le="0.001",method="(GET|POST)"/);
});

Deno.test("FastHistogram matches prom-client unlabelled, through labels(), timers and reset", async () => {
  const plain = pair([]);
  let [a, b] = await plain.texts();
  assert.equal(b, a, "an unlabelled histogram shows its series at zero");
  for (const v of [0.0005, 0.01, 2, 0.5]) {
    plain.prom.observe(v);
    plain.fast.observe(v);
  }
  [a, b] = await plain.texts();
  assert.equal(b, a);

  const { prom, fast, texts } = pair(["op"]);
  prom.labels("get").observe(0.02);
  fast.labels("get").observe(0.02);
  prom.labels({ op: "put" }).observe(0.2);
  fast.labels({ op: "put" }).observe(0.2);
  prom.zero({ op: "idle" });
  fast.zero({ op: "idle" });
  [a, b] = await texts();
  assert.equal(b, a);
  const end = fast.startTimer({ op: "timed" });
  assert.ok(end() >= 0);
  assert.match((await texts())[1], /x_seconds_count\{op="timed"\} 1/);
  fast.remove({ op: "timed" });
  prom.reset();
  fast.reset();
  prom.observe({ op: "again" }, 0.05);
  fast.observe({ op: "again" }, 0.05);
  [a, b] = await texts();
  assert.equal(b, a);
});

Deno.test("FastHistogram refuses what prom-client refuses", () => {
  const { fast } = pair(["op"]);
  assert.throws(() => fast.observe({ op: "get" }, NaN), /not a valid number/);
  assert.throws(
    () => fast.observe({ nope: "x" } as unknown as { op: string }, 1),
    /not included in initial labelset/,
  );
  assert.throws(
    () => new FastHistogram({ name: "y", help: "y", collect() {} }),
    /takes no collect hook/,
  );
});
