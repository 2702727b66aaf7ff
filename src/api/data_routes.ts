/**
 * Routes of datasets, versions and fragment payloads.
 *
 * @module
 */

import type { Hono } from "hono";
import { octetResponse } from "./octets.ts";
import { InvalidRequestError, NotFoundError, UnsupportedMediaTypeError } from "../errors.ts";
import type { ReshapeMode, Runtime } from "../runtime/runtime.ts";
import { readBoundedBytes, readExactBody } from "./body.ts";
import { BatchGate } from "./batch_gate.ts";
import type { Catalog } from "./catalog.ts";
import { type CreateDatasetInput, DEFAULT_LIST_PAGE, MAX_LIST_PAGE } from "../registry/records.ts";
import { mediaType, readControlBody, reply } from "./negotiate.ts";
import { integerQuery, objectBody, versionParam } from "./fields.ts";
import {
  checkBindings,
  checkDescriptionInput,
  checkLabel,
  MAX_LABEL_LENGTH,
} from "../registry/validate.ts";

/** What the data routes need. */
export interface DataRouteOptions {
  /**
   * The node runtime that stores and serves bytes; a name server has none
   * and answers fragment payload requests with a pointer to its runtimes.
   */
  readonly runtime?: Runtime;
  /** The registry's dataset operations. */
  readonly catalog: Catalog;
  /** Largest control body. */
  readonly maxBodyBytes: number;
  /** Largest fragment payload. */
  readonly maxPayloadBytes: number;
  /**
   * Most operations of `/v1/batch` requests run at once (default 2048);
   * further requests wait their turn (`BatchGate`).
   */
  readonly maxBatchOpsInFlight?: number;
  /** Longest `wait` an attach may ask for, in ms (default 3 600 000: an hour); 400 above. */
  readonly maxWaitMs?: number;
  /**
   * Called before a dataset is deleted, with `?force`; throws to refuse
   * (the pipelines that read it answer 409 naming themselves).
   */
  readonly beforeDelete?: (name: string, options: { readonly force: boolean }) => Promise<void>;
}

/**
 * Mounts the dataset, version and fragment routes on `app`.
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { mountDataRoutes } from "./data_routes.ts";
 * mountDataRoutes(new Hono(), { runtime, catalog, maxBodyBytes: 1 << 20, maxPayloadBytes: 1 << 30 });
 * ```
 */
export function mountDataRoutes(app: Hono, o: DataRouteOptions): void {
  const maxWait = o.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  app.post("/v1/datasets", async (c) => {
    const body = await readControlBody(c.req.raw, o.maxBodyBytes);
    return reply(c, await o.catalog.createDataset(createInput(body)), 201);
  });
  app.get("/v1/datasets", async (c) => {
    const { after, limit } = datasetPage(c.req.query("after"), c.req.query("limit"));
    // One more than the page: whether a next page exists.
    const got = await o.catalog.listDatasets({
      ...(after === undefined ? {} : { after }),
      limit: limit + 1,
    });
    const { page, next } = pageOf(got, limit, (d) => d.name);
    return reply(c, { datasets: page, ...(next === undefined ? {} : { next }) });
  });
  app.get(
    "/v1/datasets/:name",
    async (c) => reply(c, await o.catalog.describeDataset(c.req.param("name"))),
  );
  app.delete("/v1/datasets/:name", async (c) => {
    const force = ["", "true", "1"].includes(c.req.query("force") ?? "false");
    await o.beforeDelete?.(c.req.param("name"), { force });
    const records = await o.catalog.deleteDataset(c.req.param("name"), { force });
    await o.runtime?.free(records);
    return c.body(null, 204);
  });
  app.get("/v1/datasets/:name/versions", async (c) => {
    const { after, limit } = versionPage(c.req.query("after"), c.req.query("limit"));
    // One more than the page: whether a next page exists.
    const got = await o.catalog.listVersions(c.req.param("name"), {
      ...(after === undefined ? {} : { after }),
      limit: limit + 1,
    });
    const { page, next } = pageOf(got, limit, (v) => v.version);
    return reply(c, { versions: page, ...(next === undefined ? {} : { next }) });
  });
  app.post("/v1/datasets/:name/versions/:version/commit", async (c) => {
    const version = versionParam(c.req.param("version"), false) as number;
    if (o.runtime !== undefined) {
      return reply(c, await o.runtime.commit(c.req.param("name"), version));
    }
    const { retired } = await o.catalog.commitVersion(c.req.param("name"), version);
    const versions = [...new Set(retired.map((r) => r.version))].sort((a, b) => a - b);
    return reply(c, { version, retired: versions });
  });
  app.post("/v1/datasets/:name/versions/:version/flush", async (c) => {
    const version = versionParam(c.req.param("version"), false) as number;
    const tier = c.req.query("tier");
    return reply(
      c,
      await runtimeOf(o).flush(
        c.req.param("name"),
        version,
        tier === undefined ? {} : { tier },
      ),
    );
  });
  app.put("/v1/datasets/:name/versions/:version/fragments/:fragment", async (c) => {
    const runtime = runtimeOf(o);
    const dataset = c.req.param("name");
    const fragment = c.req.param("fragment");
    const version = versionParam(c.req.param("version"), false) as number;
    const type = mediaType(c.req.header("content-type"));
    if (type !== "application/octet-stream") {
      throw new UnsupportedMediaTypeError(
        `Unsupported content type: a fragment payload is application/octet-stream, found '${
          type || "none"
        }'`,
      );
    }
    checkLabel("fragment name", fragment);
    const { bindings } = queryOf(new URL(c.req.url).searchParams, maxWait);
    const expected = await runtime.expectedBytes(dataset, fragment, bindings, version);
    // A size the version does not hold yet is read from the bytes: their
    // length is checked against it once they are read.
    const bytes = expected === undefined
      ? await readBoundedBytes(c.req.raw, o.maxPayloadBytes)
      : await readExactBody(c.req.raw, {
        expected,
        limit: o.maxPayloadBytes,
        what: `fragment '${fragment}'`,
        fragment,
      });
    const { committed, record } = await runtime.publish({
      dataset,
      version,
      fragment,
      bindings,
      bytes,
    });
    return reply(c, { committed, ...record }, 201);
  });
  app.get("/v1/datasets/:name/versions/:version/fragments/:fragment", async (c) => {
    const runtime = runtimeOf(o);
    // The hot path of small attaches (bench/wrk_bench.ts): the query is
    // parsed only when there is one, and a kept answer brings its layout's
    // JSON with it.
    const url = c.req.url;
    const q = url.indexOf("?");
    const { bindings, waitMs, reshape } = q < 0
      ? { bindings: {} }
      : queryOf(new URLSearchParams(url.slice(q + 1)), maxWait);
    const fragment = c.req.param("fragment");
    checkLabel("fragment name", fragment);
    const result = await runtime.attachShared({
      dataset: c.req.param("name"),
      version: versionParam(c.req.param("version"), true),
      fragment,
      bindings,
      ...(waitMs === undefined ? {} : { waitMs }),
      ...(reshape === undefined ? {} : { reshape }),
    });
    // A large answer is streamed from the buffer it was built in, not copied.
    return octetResponse([result.bytes], {
      "strata-version": String(result.version),
      "strata-layout": result.layoutJson,
    });
  });
  const gate = new BatchGate(o.maxBatchOpsInFlight ?? DEFAULT_MAX_BATCH_OPS);
  app.post("/v1/batch", async (c) => {
    const body = await readControlBody(c.req.raw, o.maxBodyBytes) as { ops?: unknown };
    if (!Array.isArray(body?.ops)) {
      throw new InvalidRequestError('Invalid batch: expected {"ops": [...]}');
    }
    // A client gone while its batch waits its turn takes it out of the line: none of it runs.
    const leave = await gate.enter(
      body.ops.length,
      () => c.req.raw.signal,
      () =>
        new InvalidRequestError(
          "The client closed its connection while its batch waited its turn: none of it ran",
        ),
    );
    try {
      return reply(c, { results: await o.catalog.batch(body.ops) });
    } finally {
      leave();
    }
  });
}

/** Batch operations running at once, unless configured (bench/registry_wrk_bench.ts). */
const DEFAULT_MAX_BATCH_OPS = 2048;

/** The longest attach wait, unless configured: an hour. */
const DEFAULT_MAX_WAIT_MS = 3_600_000;

function runtimeOf(o: DataRouteOptions): Runtime {
  if (o.runtime === undefined) {
    throw new NotFoundError(
      "This is a name server: publish and attach fragment payloads at a runtime (strata runtime or strata serve)",
    );
  }
  return o.runtime;
}

function createInput(body: unknown): CreateDatasetInput {
  const b = objectBody(
    body,
    "dataset",
    "an object with a 'name' and a 'description' or 'descriptionJson'",
  );
  if (typeof b.name !== "string") {
    throw new InvalidRequestError("Invalid dataset: expected an object with a 'name'");
  }
  if (b.description === undefined && b.descriptionJson === undefined) {
    throw new InvalidRequestError(
      "Invalid dataset: expected 'description' or 'descriptionJson'",
    );
  }
  if (b.description !== undefined && typeof b.description !== "string") {
    throw new InvalidRequestError(
      "Invalid dataset: 'description' must be text in the data language",
    );
  }
  // Sized before anything compiles it.
  checkDescriptionInput(b);
  for (const k of ["durable", "overwrite"] as const) {
    if (b[k] !== undefined && typeof b[k] !== "boolean") {
      throw new InvalidRequestError(`Invalid dataset: '${k}' must be true or false`);
    }
  }
  if (
    b.sizes !== undefined &&
    (typeof b.sizes !== "object" || b.sizes === null || Array.isArray(b.sizes))
  ) {
    throw new InvalidRequestError(
      "Invalid dataset: 'sizes' must be an object of size variables",
    );
  }
  return b as unknown as CreateDatasetInput;
}

/**
 * Query parameters: `wait` (milliseconds), `reshape` (`source`,
 * `destination` or `auto`) and integer region bindings.
 */
function queryOf(
  params: URLSearchParams,
  maxWaitMs: number,
): { bindings: Record<string, number>; waitMs?: number; reshape?: ReshapeMode } {
  const bindings: Record<string, number> = {};
  let waitMs: number | undefined;
  let reshape: ReshapeMode | undefined;
  for (const [k, v] of params) {
    if (k === "reshape") {
      if (v !== "source" && v !== "destination" && v !== "auto") {
        throw new InvalidRequestError(
          `Query parameter 'reshape' must be source, destination or auto, found '${
            v.slice(0, 40)
          }'`,
        );
      }
      reshape = v;
      continue;
    }
    const n = integerQuery(k, v, maxWaitMs);
    if (k === "wait") waitMs = n;
    else bindings[k] = n;
  }
  checkBindings("query", bindings);
  return {
    bindings,
    ...(waitMs === undefined ? {} : { waitMs }),
    ...(reshape === undefined ? {} : { reshape }),
  };
}

/**
 * The page `GET /v1/datasets` asks for: `after` a name (any string; the
 * names after it in code unit order), `limit` 1 to `MAX_LIST_PAGE`
 * (default `DEFAULT_LIST_PAGE`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetPage } from "./data_routes.ts";
 * assert.deepEqual(datasetPage(undefined, undefined), { after: undefined, limit: 1000 });
 * assert.deepEqual(datasetPage("m", "50"), { after: "m", limit: 50 });
 * assert.throws(() => datasetPage(undefined, "0"), /'limit' must be from 1 to 10000/);
 * ```
 */
export function datasetPage(
  after: string | undefined,
  limit: string | undefined,
): { after: string | undefined; limit: number } {
  const n = pageLimit(limit);
  if (after !== undefined && after.length > MAX_LABEL_LENGTH) {
    throw new InvalidRequestError(
      `Query parameter 'after' is a dataset name, at most ${MAX_LABEL_LENGTH} characters; found ${after.length}`,
    );
  }
  return { after, limit: n };
}

/**
 * The page `GET /v1/datasets/:name/versions` asks for: the versions above
 * `after` (an integer >= 0), `limit` 1 to `MAX_LIST_PAGE` (default
 * `DEFAULT_LIST_PAGE`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { versionPage } from "./data_routes.ts";
 * assert.deepEqual(versionPage("12", "3"), { after: 12, limit: 3 });
 * assert.throws(() => versionPage("-1", undefined), /'after' must be a version/);
 * ```
 */
export function versionPage(
  after: string | undefined,
  limit: string | undefined,
): { after: number | undefined; limit: number } {
  const n = pageLimit(limit);
  if (after === undefined) return { after, limit: n };
  const v = Number(after);
  if (after === "" || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidRequestError(
      `Query parameter 'after' must be a version (an integer >= 0), found '${after.slice(0, 40)}'`,
    );
  }
  return { after: v, limit: n };
}

/**
 * The first `limit` items of `got`, asked for one more than the page, and
 * the cursor of the next page (`key` of the last item) when that one came.
 */
function pageOf<T, K>(
  got: readonly T[],
  limit: number,
  key: (item: T) => K,
): { page: readonly T[]; next: K | undefined } {
  const page = got.slice(0, limit);
  return { page, next: got.length > limit ? key(page[page.length - 1]!) : undefined };
}

/** A list's `limit` query parameter: 1 to `MAX_LIST_PAGE`, `DEFAULT_LIST_PAGE` when absent. */
function pageLimit(limit: string | undefined): number {
  const n = limit === undefined ? DEFAULT_LIST_PAGE : Number(limit);
  if (limit === "" || !Number.isSafeInteger(n) || n < 1 || n > MAX_LIST_PAGE) {
    throw new InvalidRequestError(
      `Query parameter 'limit' must be from 1 to ${MAX_LIST_PAGE}, found '${
        String(limit).slice(0, 40)
      }'`,
    );
  }
  return n;
}
