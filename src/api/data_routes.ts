/**
 * Routes of datasets, versions and fragment payloads.
 *
 * @module
 */

import type { Hono } from "hono";
import { StrataError } from "../errors.ts";
import type { ReshapeMode, Runtime } from "../runtime/runtime.ts";
import { readExactBody } from "./body.ts";
import type { Catalog, CreateDatasetInput } from "./catalog.ts";
import { mediaType, readControlBody, reply } from "./negotiate.ts";

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
  app.post("/v1/datasets", async (c) => {
    const body = await readControlBody(c.req.raw, o.maxBodyBytes);
    return reply(c, await o.catalog.createDataset(createInput(body)), 201);
  });
  app.get("/v1/datasets", async (c) => reply(c, { datasets: await o.catalog.listDatasets() }));
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
    return reply(c, { versions: await o.catalog.listVersions(c.req.param("name")) });
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
      throw new StrataError(
        "unsupported_media_type",
        `Unsupported content type: a fragment payload is application/octet-stream, found '${
          type || "none"
        }'`,
      );
    }
    const { bindings } = queryOf(new URL(c.req.url).searchParams);
    const expected = await runtime.expectedBytes(dataset, fragment, bindings);
    const bytes = await readExactBody(c.req.raw, {
      expected,
      limit: o.maxPayloadBytes,
      what: `fragment '${fragment}'`,
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
    const { bindings, waitMs, reshape } = queryOf(new URL(c.req.url).searchParams);
    const result = await runtime.attach({
      dataset: c.req.param("name"),
      version: versionParam(c.req.param("version"), true),
      fragment: c.req.param("fragment"),
      bindings,
      ...(waitMs === undefined ? {} : { waitMs }),
      ...(reshape === undefined ? {} : { reshape }),
    });
    return c.body(result.bytes as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "application/octet-stream",
      "strata-version": String(result.version),
      "strata-layout": JSON.stringify(result.layout),
    });
  });
  app.post("/v1/batch", async (c) => {
    const body = await readControlBody(c.req.raw, o.maxBodyBytes) as { ops?: unknown };
    if (!Array.isArray(body?.ops)) {
      throw new StrataError("invalid_request", 'Invalid batch: expected {"ops": [...]}');
    }
    return reply(c, { results: await o.catalog.batch(body.ops) });
  });
}

function runtimeOf(o: DataRouteOptions): Runtime {
  if (o.runtime === undefined) {
    throw new StrataError(
      "not_found",
      "This is a name server: publish and attach fragment payloads at a runtime (strata runtime or strata serve)",
    );
  }
  return o.runtime;
}

function createInput(body: unknown): CreateDatasetInput {
  if (
    typeof body !== "object" || body === null ||
    typeof (body as { name?: unknown }).name !== "string"
  ) {
    throw new StrataError("invalid_request", "Invalid dataset: expected an object with a 'name'");
  }
  const b = body as Record<string, unknown>;
  if (b.description === undefined && b.descriptionJson === undefined) {
    throw new StrataError(
      "invalid_request",
      "Invalid dataset: expected 'description' or 'descriptionJson'",
    );
  }
  if (b.description !== undefined && typeof b.description !== "string") {
    throw new StrataError(
      "invalid_request",
      "Invalid dataset: 'description' must be text in the data language",
    );
  }
  return b as unknown as CreateDatasetInput;
}

/** A version in a path: a positive integer, or `latest` where allowed. */
function versionParam(text: string, latestAllowed: boolean): number | "latest" {
  if (latestAllowed && text === "latest") return "latest";
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    const expected = latestAllowed ? "a positive integer or 'latest'" : "a positive integer";
    throw new StrataError("invalid_request", `Invalid version '${text}': expected ${expected}`);
  }
  return n;
}

/**
 * Query parameters: `wait` (milliseconds), `reshape` (`source`,
 * `destination` or `auto`) and integer region bindings.
 */
function queryOf(
  params: URLSearchParams,
): { bindings: Record<string, number>; waitMs?: number; reshape?: ReshapeMode } {
  const bindings: Record<string, number> = {};
  let waitMs: number | undefined;
  let reshape: ReshapeMode | undefined;
  for (const [k, v] of params) {
    if (k === "reshape") {
      if (v !== "source" && v !== "destination" && v !== "auto") {
        throw new StrataError(
          "invalid_request",
          `Query parameter 'reshape' must be source, destination or auto, found '${v}'`,
        );
      }
      reshape = v;
      continue;
    }
    const n = Number(v);
    if (v === "" || !Number.isSafeInteger(n)) {
      throw new StrataError(
        "invalid_request",
        `Query parameter '${k}' must be an integer, found '${v}'`,
      );
    }
    if (k === "wait") {
      if (n < 0) {
        throw new StrataError("invalid_request", `Query parameter 'wait' must be >= 0, found ${n}`);
      }
      waitMs = n;
    } else bindings[k] = n;
  }
  return {
    bindings,
    ...(waitMs === undefined ? {} : { waitMs }),
    ...(reshape === undefined ? {} : { reshape }),
  };
}
