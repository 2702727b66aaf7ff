/**
 * Routes of functions (deploy, versions, aliases, invoke), pipelines and
 * lineage. Thin: parse, call the function and pipeline services, reply.
 *
 * @module
 */

import type { Context, Hono } from "hono";
import { InvalidConfigError, InvalidRequestError, UnsupportedMediaTypeError } from "../errors.ts";
import type { FunctionService, InvokeRequest } from "../functions/service.ts";
import type { PipelineService } from "../functions/pipelines.ts";
import { MAX_SOURCE_BYTES } from "../functions/source.ts";
import { parseRunJob } from "../functions/run_job.ts";
import { checkJsonSize, checkName, type NameKind } from "../registry/validate.ts";
import { readBoundedText } from "./body.ts";
import { forward } from "./forward.ts";
import { mediaType, readControlBody, reply } from "./negotiate.ts";

/**
 * What the function routes need. A process that keeps functions (`strata
 * serve`, `strata nameserver`) has `pipelines`; a runtime in its own
 * process has `keeper` instead, and passes management on to it.
 */
export interface FunctionRouteOptions {
  /**
   * The function service: deploys where functions are kept, calls where
   * there is data. A name server that does not keep functions has none and
   * passes everything on to `keeper`.
   */
  readonly functions?: FunctionService;
  /** The pipeline service, where functions are kept. */
  readonly pipelines?: PipelineService;
  /** The name server that keeps functions, when this process does not: all but invoke and runs go there. */
  readonly keeper?: string;
  /**
   * A process that holds no data sends invocations to a runtime: the URL of
   * the runtime to run an invocation of `dataset`'s `version` on.
   */
  readonly invokeAt?: (dataset: string, version: number | "latest") => Promise<string>;
  /** Serve `POST /v1/runs`, the runs pipelines hand to this process's runtime. */
  readonly runs?: boolean;
  /** Largest control body. */
  readonly maxBodyBytes: number;
  /** Longest `wait` an invocation may ask for, in ms (default 3 600 000: an hour); 400 above. */
  readonly maxWaitMs?: number;
  /**
   * How long management passed on to `keeper` may take, in ms (default
   * `FORWARD_TIMEOUT_MS`): past it the caller gets a 503 naming the name
   * server.
   */
  readonly forwardTimeoutMs?: number;
  /**
   * How long an invocation passed on to a runtime (`invokeAt`) may run
   * there, in ms, on top of the `wait` it asks for (default
   * `INVOKE_TIMEOUT_MS`): past it the caller gets a 503 naming the runtime.
   */
  readonly invokeTimeoutMs?: number;
}

/** Default deadline of management passed on to the name server that keeps functions: a minute. */
export const FORWARD_TIMEOUT_MS = 60_000;

/**
 * Default time an invocation passed on to a runtime may take there beyond
 * its `wait`: ten minutes, ten calls at the longest time limit a function
 * may have (`MAX_LIMITS.timeMs`).
 */
export const INVOKE_TIMEOUT_MS = 600_000;

/** Most aliases one deploy sets. */
const MAX_ALIASES = 16;

const SOURCE_TYPES = [
  "text/plain",
  "application/typescript",
  "application/x-typescript",
  "text/typescript",
];

/**
 * Mounts the function, pipeline and lineage routes on `app`.
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { mountFunctionRoutes } from "./function_routes.ts";
 * mountFunctionRoutes(new Hono(), { functions, pipelines, maxBodyBytes: 1 << 20 });
 * ```
 */
export function mountFunctionRoutes(app: Hono, o: FunctionRouteOptions): void {
  const functions = o.functions;
  if (functions === undefined) {
    if (o.keeper === undefined) {
      throw new InvalidConfigError(
        "Function routes need a function service, or the name server that keeps functions",
      );
    }
    mountForwards(app, o.keeper, o);
    return;
  }
  if (o.runs === true) {
    app.post("/v1/runs", async (c) => {
      const job = parseRunJob(await readControlBody(c.req.raw, o.maxBodyBytes));
      return reply(c, await functions.runJob(job));
    });
  }
  app.post("/v1/functions/:name/invoke", async (c) => {
    const body = await readControlBody(c.req.raw, o.maxBodyBytes);
    const req = invokeBody(body, o.maxWaitMs ?? 3_600_000);
    if (o.invokeAt !== undefined) {
      const runtime = await o.invokeAt(req.dataset, req.version ?? "latest");
      return await forward(c, runtime, 0, {
        body,
        timeoutMs: (req.waitMs ?? 0) + (o.invokeTimeoutMs ?? INVOKE_TIMEOUT_MS),
        peer: `Runtime ${runtime}`,
      });
    }
    const r = await functions.invoke(name(c, "name", "function"), req);
    const meta = { function: r.function, source: r.source, calls: r.calls, logs: r.logs };
    if (r.bytes !== undefined) {
      return c.body(r.bytes as Uint8Array<ArrayBuffer>, 200, {
        "content-type": "application/octet-stream",
        "strata-layout": JSON.stringify(r.layout),
        "strata-function": JSON.stringify(meta),
      });
    }
    return reply(c, { ...meta, value: JSON.parse(r.json!) });
  });
  if (o.keeper !== undefined) {
    mountForwards(app, o.keeper, o);
    return;
  }
  const pipelines = o.pipelines;
  if (pipelines === undefined) {
    throw new InvalidConfigError(
      "Function routes need the pipelines, or the name server that keeps them",
    );
  }
  mountKeeperRoutes(app, { ...o, functions }, pipelines);
}

/** Function, pipeline and lineage routes passed on to the name server that keeps functions. */
function mountForwards(app: Hono, keeper: string, o: FunctionRouteOptions): void {
  const options = {
    timeoutMs: o.forwardTimeoutMs ?? FORWARD_TIMEOUT_MS,
    peer: `Name server ${keeper}`,
  };
  const pass = (c: Context) => forward(c, keeper, o.maxBodyBytes, options);
  for (const path of ["/v1/functions", "/v1/functions/*", "/v1/pipelines", "/v1/pipelines/*"]) {
    app.all(path, pass);
  }
  app.get("/v1/datasets/:name/versions/:version/lineage", pass);
}

function mountKeeperRoutes(
  app: Hono,
  o: FunctionRouteOptions & { readonly functions: FunctionService },
  pipelines: PipelineService,
): void {
  app.put("/v1/functions/:name", async (c) => {
    const { source, limits, aliases } = await deployBody(c, o.maxBodyBytes);
    const v = await o.functions.deploy(name(c, "name", "function"), source, { limits, aliases });
    return reply(c, v, v.created ? 201 : 200);
  });
  app.get("/v1/functions", async (c) => reply(c, { functions: await o.functions.list() }));
  app.get(
    "/v1/functions/:name",
    async (c) => reply(c, await o.functions.describe(name(c, "name", "function"))),
  );
  app.delete("/v1/functions/:name", async (c) => {
    await o.functions.deleteFunction(name(c, "name", "function"));
    return c.body(null, 204);
  });
  app.get("/v1/functions/:name/versions/:version", async (c) => {
    const v = await o.functions.version(
      name(c, "name", "function"),
      versionOf(c.req.param("version")),
    );
    return reply(c, v);
  });
  app.delete("/v1/functions/:name/versions/:version", async (c) => {
    await o.functions.deleteVersion(name(c, "name", "function"), versionOf(c.req.param("version")));
    return c.body(null, 204);
  });
  app.put("/v1/functions/:name/aliases/:alias", async (c) => {
    const body = await readControlBody(c.req.raw, o.maxBodyBytes) as { version?: unknown };
    const version = body?.version;
    if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 1) {
      throw new InvalidRequestError(
        `Invalid alias body: expected {"version": N} with N >= 1, found ${JSON.stringify(version)}`,
      );
    }
    const fn = name(c, "name", "function");
    const alias = name(c, "alias", "alias");
    await o.functions.setAlias(fn, alias, version);
    return reply(c, { name: fn, alias, version });
  });
  app.delete("/v1/functions/:name/aliases/:alias", async (c) => {
    await o.functions.deleteAlias(name(c, "name", "function"), name(c, "alias", "alias"));
    return c.body(null, 204);
  });

  app.put("/v1/pipelines/:name", async (c) => {
    const pipeline = name(c, "name", "pipeline");
    const existed = pipelines.list().some((p) => p.name === pipeline);
    const body = await readControlBody(c.req.raw, o.maxBodyBytes);
    checkJsonSize(`pipeline '${pipeline}'`, body);
    return reply(c, await pipelines.put(pipeline, body), existed ? 200 : 201);
  });
  app.get("/v1/pipelines", (c) => reply(c, { pipelines: pipelines.list() }));
  app.get(
    "/v1/pipelines/:name",
    async (c) => reply(c, await pipelines.get(name(c, "name", "pipeline"))),
  );
  app.delete("/v1/pipelines/:name", async (c) => {
    await pipelines.delete(name(c, "name", "pipeline"));
    return c.body(null, 204);
  });
  app.get("/v1/pipelines/:name/results/:version", async (c) => {
    const v = c.req.param("version");
    return reply(
      c,
      await pipelines.result(name(c, "name", "pipeline"), v === "latest" ? v : versionOf(v)),
    );
  });
  app.get("/v1/datasets/:name/versions/:version/lineage", async (c) => {
    const lineage = await pipelines.lineage(
      name(c, "name", "dataset"),
      versionOf(c.req.param("version")),
    );
    return reply(c, lineage);
  });
}

async function deployBody(
  c: Context,
  maxBodyBytes: number,
): Promise<{ source: string; limits: Record<string, number>; aliases: string[] }> {
  const type = mediaType(c.req.header("content-type"));
  const url = new URL(c.req.url);
  if (type === "application/json" || type === "application/msgpack") {
    const body = await readControlBody(c.req.raw, maxBodyBytes) as Record<string, unknown>;
    if (typeof body?.source !== "string") {
      throw new InvalidRequestError(
        'Invalid deploy body: expected {"source": "...", "limits"?: {...}, "aliases"?: [...]}',
      );
    }
    const aliases = body.aliases ?? [];
    if (
      !Array.isArray(aliases) || aliases.length > MAX_ALIASES ||
      aliases.some((a) => typeof a !== "string")
    ) {
      throw new InvalidRequestError(
        `Invalid deploy body: 'aliases' must be a list of at most ${MAX_ALIASES} names`,
      );
    }
    return {
      source: body.source,
      limits: (body.limits ?? {}) as Record<string, number>,
      aliases: aliases as string[],
    };
  }
  if (!SOURCE_TYPES.includes(type)) {
    throw new UnsupportedMediaTypeError(
      `Unsupported content type: a function is TypeScript source (application/typescript or text/plain) or JSON, found '${
        type || "none"
      }'`,
    );
  }
  const limits: Record<string, number> = {};
  for (const key of ["timeMs", "memoryBytes", "outputBytes"]) {
    const v = url.searchParams.get(key);
    if (v === null) continue;
    const n = Number(v);
    if (v === "" || !Number.isSafeInteger(n)) {
      throw new InvalidRequestError(
        `Query parameter '${key}' must be an integer, found '${v}'`,
      );
    }
    limits[key] = n;
  }
  const aliases = url.searchParams.getAll("alias");
  if (aliases.length > MAX_ALIASES) {
    throw new InvalidRequestError(
      `Query parameter 'alias' may be given at most ${MAX_ALIASES} times, found ${aliases.length}`,
    );
  }
  const source = await readBoundedText(c.req.raw, Math.min(maxBodyBytes, MAX_SOURCE_BYTES));
  return { source, limits, aliases };
}

function invokeBody(body: unknown, maxWaitMs: number): InvokeRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidRequestError(
      'Invalid invoke body: expected {"dataset": "...", ...}',
    );
  }
  const b = body as Record<string, unknown>;
  const bad = (what: string) => {
    throw new InvalidRequestError(`Invalid invoke body: ${what}`);
  };
  const known = ["use", "dataset", "version", "params", "each", "args", "wait"];
  for (const k of Object.keys(b)) if (!known.includes(k)) bad(`unknown field '${k}'`);
  if (typeof b.dataset !== "string") bad("expected 'dataset', a dataset name");
  const version = b.version ?? "latest";
  if (version !== "latest" && !(Number.isSafeInteger(version) && (version as number) >= 1)) {
    bad("expected 'version' to be a positive integer or 'latest'");
  }
  const use = b.use ?? "latest";
  if (typeof use !== "string" && !(Number.isSafeInteger(use) && (use as number) >= 1)) {
    bad("expected 'use' to be an alias or a version number");
  }
  const params = b.params ?? {};
  if (
    typeof params !== "object" || params === null || Array.isArray(params) ||
    Object.values(params).some((v) => !Number.isSafeInteger(v))
  ) bad("expected 'params' to be an object of integers");
  if (b.each !== undefined && typeof b.each !== "boolean") {
    bad("expected 'each' to be true or false");
  }
  if (
    b.wait !== undefined &&
    !(Number.isSafeInteger(b.wait) && (b.wait as number) >= 0 && (b.wait as number) <= maxWaitMs)
  ) bad(`expected 'wait' to be milliseconds from 0 to ${maxWaitMs}`);
  return {
    dataset: b.dataset as string,
    version: version as number | "latest",
    use: use as string | number,
    params: params as Record<string, number>,
    each: b.each === true,
    ...(b.args === undefined ? {} : { args: b.args }),
    ...(b.wait === undefined ? {} : { waitMs: b.wait as number }),
  };
}

/** A name in the path, checked before any service or store sees it. */
function name(c: Context, key: string, kind: NameKind): string {
  const value = c.req.param(key) ?? "";
  checkName(kind, value);
  return value;
}

function versionOf(text: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidRequestError(
      `Invalid version '${text}': expected a positive integer`,
    );
  }
  return n;
}
