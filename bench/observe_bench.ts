/**
 * What the metrics and the request log cost on the publish and attach
 * path: the increments one publish or attach makes, and the request
 * middleware around a handler, against the same handler bare.
 *
 * ```sh
 * deno bench --allow-read=. bench/observe_bench.ts
 * ```
 *
 * @module
 */

import { Hono } from "hono";
import { observeRequests } from "../src/api/observe_routes.ts";
import { log, metrics } from "../src/observe/mod.ts";

const ROUTE = "/v1/datasets/:name/versions/:version/fragments/:fragment";
const PATH = "/v1/datasets/particles/versions/7/fragments/xyz";

Deno.bench("one publish's metric updates (a histogram sample, a counter)", {
  group: "updates",
  baseline: true,
}, () => {
  metrics.requests.observe({ method: "PUT", route: ROUTE, status: "201" }, 0.004);
  metrics.publishedBytes.inc(1 << 20);
});

Deno.bench("one remote attach's metric updates (a sample, 3 counters)", {
  group: "updates",
}, () => {
  metrics.requests.observe({ method: "GET", route: ROUTE, status: "200" }, 0.004);
  metrics.wireBytes.inc({ direction: "received" }, 1 << 20);
  metrics.reshapedBytes.inc(1 << 20);
  metrics.attachedBytes.inc(1 << 20);
});

const bare = new Hono().get(ROUTE, (c) => c.body(null, 204));
const observed = new Hono().use(observeRequests()).get(ROUTE, (c) => c.body(null, 204));

Deno.bench("request, bare handler", { group: "request", baseline: true }, async () => {
  await bare.request(PATH);
});

Deno.bench("request, observed (log at warn: no line)", { group: "request" }, async () => {
  log.configure({ level: "warn" });
  await observed.request(PATH);
});

Deno.bench("request, observed and logged (a text line, discarded)", {
  group: "request",
}, async () => {
  log.configure({ level: "info", write: () => {} });
  await observed.request(PATH);
  log.configure({ level: "warn" });
});
