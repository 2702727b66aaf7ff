/**
 * What every process shows of itself: a log line and a histogram sample per
 * request, `GET /metrics` (Prometheus text) and the dashboard at `/ui`.
 *
 * @module
 */

import type { Context, Hono, MiddlewareHandler } from "hono";
import { UnauthorizedError } from "../errors.ts";
import {
  DATASET_SERIES,
  log,
  metrics,
  METRICS_CONTENT_TYPE,
  type MetricSources,
  type PoolGauge,
  renderMetrics,
} from "../observe/mod.ts";
import { PAGE_HTML, PAGE_JS } from "./dashboard/_page.ts";
import { UPLOT_CSS, UPLOT_JS } from "./dashboard/_uplot.ts";

/**
 * A middleware that, once a request is answered, observes its latency in
 * `strata_http_request_duration_seconds` (by method, route pattern and
 * status) and logs one `request` line at level info: method, route, status,
 * milliseconds, bytes (request and response bodies), and the dataset and version the route
 * names. Nothing else is done per request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { observeRequests } from "./observe_routes.ts";
 * import { processMetrics } from "../observe/mod.ts";
 * const app = new Hono().use(observeRequests()).get("/v1/datasets/:name", (c) => c.text("ok"));
 * await app.request("/v1/datasets/particles");
 * const text = await processMetrics.getSingleMetricAsString("strata_http_request_duration_seconds");
 * assert.match(text, /_count\{method="GET",route="\/v1\/datasets\/:name",status="200"\} \d+/);
 * ```
 */
export function observeRequests(): MiddlewareHandler {
  return async function requestMetrics(c, next) {
    const start = performance.now();
    try {
      await next();
    } finally {
      const ms = performance.now() - start;
      const status = c.res.status;
      // The pattern, not the path: one series per route, whatever the names.
      const route = status === 404 && c.error === undefined && c.req.routePath === "/*"
        ? "unmatched"
        : c.req.routePath;
      metrics.requests.observe({ method: c.req.method, route, status: String(status) }, ms / 1000);
      if (log.enabled("info")) {
        // The dataset and version a route names (parsed only for routes that name one).
        const datasets = route.startsWith("/v1/datasets/");
        const params = (datasets || route.includes(":version") ? c.req.param() : {}) as Record<
          string,
          string | undefined
        >;
        log.info("request", {
          method: c.req.method,
          route,
          status,
          ms: Math.round(ms * 100) / 100,
          bytes: (lengthOf(c.req.header("content-length")) ?? 0) +
            (lengthOf(c.res.headers.get("content-length")) ?? 0),
          dataset: datasets ? params.name : undefined,
          version: params.version,
        });
      }
    }
  };
}

function lengthOf(header: string | null | undefined): number | undefined {
  if (header === null || header === undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Options of the observability routes. */
export interface ObserveRouteOptions {
  /** What the scrape reads from the process's parts. */
  readonly sources: MetricSources;
  /** When set, `/metrics` and `/ui` need it: a bearer header, or the cookie `/ui?token=` sets. */
  readonly token?: string;
}

/**
 * Mounts `GET /metrics` and the read-only dashboard (`/ui`, its script and
 * uPlot). With a token, both need it: `Authorization: Bearer TOKEN`, or the
 * cookie that opening `/ui?token=TOKEN` once sets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { mountObserveRoutes } from "./observe_routes.ts";
 * import { errorResponse } from "./errors.ts";
 * const app = new Hono().onError(errorResponse);
 * mountObserveRoutes(app, { sources: {}, token: "s3cret-token" });
 * assert.equal((await app.request("/metrics")).status, 401);
 * const ok = await app.request("/metrics", { headers: { authorization: "Bearer s3cret-token" } });
 * assert.match(await ok.text(), /# TYPE strata_published_bytes_total counter/);
 * const page = await app.request("/ui?token=s3cret-token");
 * assert.equal(page.status, 200);
 * assert.match(page.headers.get("set-cookie")!, /^strata_token=/);
 * ```
 */
export function mountObserveRoutes(app: Hono, o: ObserveRouteOptions): void {
  if (o.token !== undefined) {
    const check = readToken(o.token);
    app.use("/metrics", check);
    app.use("/ui", check);
    app.use("/ui/*", check);
  }
  app.get(
    "/metrics",
    async (c) =>
      c.body(await renderMetrics(o.sources), 200, { "content-type": METRICS_CONTENT_TYPE }),
  );
  const page = (body: string, type: string) => (c: Context) =>
    c.body(body, 200, { "content-type": type, "cache-control": "no-cache" });
  app.get("/ui", page(PAGE_HTML, "text/html; charset=utf-8"));
  app.get("/ui/", page(PAGE_HTML, "text/html; charset=utf-8"));
  app.get("/ui/app.js", page(PAGE_JS, "text/javascript; charset=utf-8"));
  app.get("/ui/uplot.js", page(UPLOT_JS, "text/javascript; charset=utf-8"));
  app.get("/ui/uplot.css", page(UPLOT_CSS, "text/css; charset=utf-8"));
}

/** The parts of a process a scrape reads, as the app is given them. */
export interface ObservedParts {
  /** A runtime: its node name and its tiers. */
  readonly runtime?: {
    readonly node: string;
    readonly tiers: {
      usage(): readonly { name: string; capacity: number; used: number; count: number }[];
    };
  } | undefined;
  /** The function service: its sandbox pool. */
  readonly functions?: { readonly poolStats: PoolGauge } | undefined;
  /** A name server's node leases. */
  readonly nodes?: { list(): Promise<readonly { readonly state: "up" | "down" }[]> } | undefined;
  /** A name server's datasets, and the small copies' bytes it keeps for commit notices. */
  readonly datasets?: {
    listDatasets(
      page?: { readonly limit?: number },
    ): Promise<readonly { readonly name: string; readonly latest: number | null }[]>;
    readonly stats?: {
      readonly datasets: number;
      readonly inlineCopies: number;
      readonly inlineBytes: number;
    };
  } | undefined;
}

/**
 * The scrape's sources from the parts a process runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { metricSourcesOf } from "./observe_routes.ts";
 * const sources = metricSourcesOf({ functions: { poolStats: { workers: 1, spares: 1, waiting: 0 } } });
 * assert.deepEqual(sources.pool?.(), { workers: 1, spares: 1, waiting: 0 });
 * assert.equal(sources.tiers, undefined);
 * ```
 */
export function metricSourcesOf(parts: ObservedParts): MetricSources {
  const { runtime, functions, nodes, datasets } = parts;
  return {
    ...(runtime === undefined ? {} : {
      tiers: () =>
        runtime.tiers.usage().map((t) => ({
          node: runtime.node,
          tier: t.name,
          capacity: t.capacity,
          used: t.used,
          copies: t.count,
        })),
    }),
    ...(functions === undefined ? {} : { pool: () => functions.poolStats }),
    ...(nodes === undefined ? {} : { nodes: () => nodes.list() }),
    ...(datasets === undefined ? {} : {
      datasets: async () => {
        const first = await datasets.listDatasets({ limit: DATASET_SERIES });
        return {
          count: datasets.stats?.datasets ?? first.length,
          first: first.map((d) => ({ name: d.name, latest: d.latest ?? 0 })),
        };
      },
    }),
    ...(datasets?.stats === undefined ? {} : {
      inline: () => ({ copies: datasets.stats!.inlineCopies, bytes: datasets.stats!.inlineBytes }),
    }),
  };
}

/** Token from the bearer header, the `strata_token` cookie, or `?token=` (which sets the cookie). */
function readToken(token: string): MiddlewareHandler {
  const expected = new TextEncoder().encode(token);
  return async function observeToken(c, next) {
    const bearer = /^bearer[ ]+(.*)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    const cookie = /(?:^|;\s*)strata_token=([^;]*)/.exec(c.req.header("cookie") ?? "")?.[1];
    const query = c.req.query("token");
    const given = bearer ?? (cookie === undefined ? query : decodeURIComponent(cookie));
    if (given === undefined || !sameBytes(new TextEncoder().encode(given), expected)) {
      throw new UnauthorizedError(
        "Missing or wrong token: /metrics and /ui need 'Authorization: Bearer <token>', or open /ui?token=<token> once",
      );
    }
    await next();
    if (query !== undefined && bearer === undefined && cookie === undefined) {
      c.header(
        "set-cookie",
        `strata_token=${encodeURIComponent(query)}; Path=/; HttpOnly; SameSite=Strict`,
      );
    }
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i]!;
  return diff === 0;
}
