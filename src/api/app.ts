/**
 * The HTTP API (Hono): thin handlers that parse, call the typed core and map
 * errors in one place.
 *
 * @module
 */

import { Hono } from "hono";
import { InvalidRequestError, UnsupportedMediaTypeError } from "../errors.ts";
import {
  type Bindings,
  compileDescription,
  type Dataset,
  datasetLayout,
  descriptionFromJson,
  descriptionToJson,
  fragmentLayout,
} from "../ddl/mod.ts";
import type { FragmentLayout } from "../transform/layout.ts";
import { checkDescriptionInput } from "../registry/validate.ts";
import { readBoundedText } from "./body.ts";
import { errorResponse } from "./errors.ts";
import { mediaType, MSGPACK, readControlBody, reply } from "./negotiate.ts";
import { type DataRouteOptions, mountDataRoutes } from "./data_routes.ts";
import { mountNodeRoutes } from "./node_routes.ts";
import { requireToken } from "./auth.ts";
import { limitInFlight } from "./in_flight.ts";
import { type ClusterRouteOptions, mountClusterRoutes } from "./cluster_routes.ts";
import { mountReplicaRoutes } from "./replica_routes.ts";
import { mountMapRoutes } from "./map_routes.ts";
import { mountStepRoutes } from "./step_routes.ts";
import { type FunctionRouteOptions, mountFunctionRoutes } from "./function_routes.ts";
import { mountHdf5Routes } from "./hdf5_routes.ts";
import { mountServiceRoutes, type ServiceRouteOptions } from "./service_routes.ts";
import { mountServiceKvRoutes } from "./service_kv_routes.ts";
import type { MetaKv } from "../services/meta_kv.ts";
import { metricSourcesOf, mountObserveRoutes, observeRequests } from "./observe_routes.ts";

/** Options of the API app. */
export interface AppOptions {
  /** Largest control request body, in bytes. */
  readonly maxBodyBytes: number;
  /** Bearer token that mutating requests must carry, when set. */
  readonly token?: string;
  /** Most requests handled at once, waits included; one more is 503 `busy` (default 4096). */
  readonly maxInFlight?: number;
  /** Most step streams open at once on the runtime (default 64); 503 `busy` past it. */
  readonly maxStepStreams?: number;
  /** How often a step stream's waiting reader gets a heartbeat frame, ms (default 10 000). */
  readonly stepHeartbeatMs?: number;
  /** The dataset and payload routes' services; without them only describe and health are served. */
  readonly data?: Omit<DataRouteOptions, "maxBodyBytes">;
  /** Name server routes for runtimes in other processes (`/v1/cluster/...`, `GET /v1/nodes`). */
  readonly cluster?: Omit<ClusterRouteOptions, "maxBodyBytes">;
  /** `GET /v1/nodes` of a runtime that is not itself a name server. */
  readonly nodes?: () => Promise<readonly { readonly id: string }[]>;
  /** The function, pipeline and lineage routes' services; without them those routes are absent. */
  readonly functions?: Omit<FunctionRouteOptions, "maxBodyBytes">;
  /** The kit's services (`/v1/services/...`); without them those routes are absent. */
  readonly services?: ServiceRouteOptions;
  /** A name server's service metadata for runtimes in other processes (`/v1/cluster/services/kv/*`). */
  readonly serviceKv?: MetaKv;
}

/** Requests one process handles at once unless configured (`maxInFlight`). */
export const DEFAULT_MAX_IN_FLIGHT = 4096;

/** The version the service reports. */
export const VERSION = "0.1.0";

/**
 * Creates the `/v1` API.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createApp } from "./app.ts";
 * const app = createApp({ maxBodyBytes: 1 << 20 });
 * const res = await app.request("/v1/describe", {
 *   method: "POST",
 *   headers: { "content-type": "text/plain" },
 *   body: "dataset d { var x [4]float64 }",
 * });
 * assert.equal(res.status, 200);
 * assert.equal((await res.json()).layout.byteLength, 32);
 * ```
 */
export function createApp(options: AppOptions): Hono {
  const app = new Hono();
  app.use(observeRequests());
  app.use(limitInFlight(options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT));
  if (options.token !== undefined) app.use("/v1/*", requireToken(options.token));
  app.get("/v1/health", (c) => c.json({ status: "ok", version: VERSION }));
  app.post("/v1/describe", async (c) => {
    const ds = await readDescription(c.req.raw, options.maxBodyBytes);
    const bindings = queryBindings(new URL(c.req.url).searchParams);
    const sized = [...ds.variables.values()].every((v) =>
      v.dims.every((d) => typeof d === "number")
    );
    const fragments: Record<string, FragmentLayout | { params: readonly string[] }> = {};
    for (const [name, f] of ds.fragments) {
      const bound = f.decl.params.every((p) => p in bindings);
      fragments[name] = bound && (sized || Object.keys(bindings).length > 0)
        ? fragmentLayout(ds, name, pick(bindings, f.decl.params, ds))
        : { params: f.decl.params };
    }
    return reply(c, {
      description: descriptionToJson(ds.description),
      layout: sized || Object.keys(bindings).length > 0
        ? datasetLayout(ds, sizeBindings(bindings, ds))
        : null,
      fragments,
    });
  });
  if (options.data !== undefined) {
    mountDataRoutes(app, { ...options.data, maxBodyBytes: options.maxBodyBytes });
    mountHdf5Routes(app, { ...options.data, maxBodyBytes: options.maxBodyBytes });
    mountStepRoutes(app, {
      ...(options.data.runtime === undefined ? {} : { runtime: options.data.runtime }),
      ...(options.data.maxWaitMs === undefined ? {} : { maxWaitMs: options.data.maxWaitMs }),
      ...(options.maxStepStreams === undefined ? {} : { maxStreams: options.maxStepStreams }),
      ...(options.stepHeartbeatMs === undefined ? {} : { heartbeatMs: options.stepHeartbeatMs }),
    });
    if (options.data.runtime !== undefined) {
      mountReplicaRoutes(app, {
        runtime: options.data.runtime,
        maxBodyBytes: options.maxBodyBytes,
      });
      mountMapRoutes(app, { runtime: options.data.runtime });
    }
  }
  if (options.cluster !== undefined) {
    mountClusterRoutes(app, { ...options.cluster, maxBodyBytes: options.maxBodyBytes });
  }
  const cluster = options.cluster;
  if (options.data?.runtime !== undefined || cluster !== undefined || options.nodes !== undefined) {
    mountNodeRoutes(app, {
      runtime: options.data?.runtime,
      cluster: cluster === undefined ? options.nodes : () => cluster.nodes.list(),
    });
  }
  if (options.functions !== undefined) {
    mountFunctionRoutes(app, { ...options.functions, maxBodyBytes: options.maxBodyBytes });
  }
  if (options.services !== undefined) mountServiceRoutes(app, options.services);
  if (options.serviceKv !== undefined) {
    mountServiceKvRoutes(app, { kv: options.serviceKv, maxBodyBytes: options.maxBodyBytes });
  }
  mountObserveRoutes(app, {
    sources: metricSourcesOf({
      runtime: options.data?.runtime,
      functions: options.functions?.functions,
      nodes: options.cluster?.nodes,
      datasets: options.cluster?.registry,
    }),
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  app.notFound((c) =>
    reply(
      c,
      { error: { code: "not_found", message: `No route: ${c.req.method} ${c.req.path}` } },
      404,
    )
  );
  app.onError(errorResponse);
  return app;
}

/** A description in the body: text, or its JSON form in JSON or msgpack; sized before it compiles. */
async function readDescription(req: Request, limit: number): Promise<Dataset> {
  const type = mediaType(req.headers.get("content-type"));
  if (type === "text/plain") {
    const description = await readBoundedText(req, limit);
    checkDescriptionInput({ description });
    return compileDescription(description);
  }
  if (type !== "application/json" && type !== MSGPACK) {
    throw new UnsupportedMediaTypeError(
      `Unsupported content type: expected text/plain, application/json or ${MSGPACK}, found '${
        type || "none"
      }'`,
    );
  }
  const descriptionJson = await readControlBody(req, limit);
  checkDescriptionInput({ descriptionJson });
  return descriptionFromJson(descriptionJson);
}

function queryBindings(params: URLSearchParams): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of params) {
    const n = Number(v);
    if (v === "" || !Number.isSafeInteger(n)) {
      throw new InvalidRequestError(
        `Query parameter '${k}' must be an integer, found '${v}'`,
      );
    }
    out[k] = n;
  }
  return out;
}

function sizeBindings(b: Bindings, ds: Dataset): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of ds.variables.values()) {
    for (const d of v.dims) {
      if (typeof d !== "number" && b[d.sizeVar] !== undefined) out[d.sizeVar] = b[d.sizeVar]!;
    }
  }
  return out;
}

function pick(b: Bindings, params: readonly string[], ds: Dataset): Record<string, number> {
  const out = sizeBindings(b, ds);
  for (const p of params) if (b[p] !== undefined) out[p] = b[p]!;
  return out;
}
