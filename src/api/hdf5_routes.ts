/**
 * The HDF5 routes: `GET /v1/datasets/:name/versions/:version/export` answers
 * a committed version as an HDF5 file; `POST /v1/datasets/:name/import`
 * creates a dataset from one and publishes it as version 1.
 *
 * @module
 */

import type { Hono } from "hono";
import type { DataRouteOptions } from "./data_routes.ts";
import { readBoundedBytes } from "./body.ts";
import { mediaType, reply } from "./negotiate.ts";
import { versionParam } from "./fields.ts";
import { NotFoundError, UnsupportedMediaTypeError } from "../errors.ts";
import { fromHdf5, HDF5_MEDIA_TYPE, toHdf5 } from "../hdf5/mod.ts";

/**
 * Mounts the HDF5 export and import routes on `app` (a process with a
 * runtime: the bytes are attached and published there).
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { mountHdf5Routes } from "./hdf5_routes.ts";
 * mountHdf5Routes(new Hono(), { runtime, catalog, maxBodyBytes: 1 << 20, maxPayloadBytes: 1 << 30 });
 * ```
 */
export function mountHdf5Routes(app: Hono, o: DataRouteOptions): void {
  app.get("/v1/datasets/:name/versions/:version/export", async (c) => {
    const runtime = runtimeOf(o);
    const dataset = c.req.param("name");
    const described = await o.catalog.describeDataset(dataset) as { description?: string };
    const attached = await runtime.attach({
      dataset,
      version: versionParam(c.req.param("version"), true),
      fragment: "dataset",
      bindings: {},
    });
    // Lineage is served by whichever process keeps functions (this one, or the
    // name server the function routes forward to): ask the app's own route.
    const answer = await app.request(
      `/v1/datasets/${encodeURIComponent(dataset)}/versions/${attached.version}/lineage`,
      { headers: { accept: "application/json" } },
    );
    const lineage = answer.ok ? await answer.json() : undefined;
    if (!answer.ok) await answer.body?.cancel();
    const file = await toHdf5({
      dataset,
      version: attached.version,
      description: described.description ?? "",
      layout: attached.layout,
      bytes: attached.bytes,
      ...(lineage === undefined ? {} : { lineage }),
    });
    return c.body(file as Uint8Array<ArrayBuffer>, 200, {
      "content-type": HDF5_MEDIA_TYPE,
      "content-disposition": `attachment; filename="${dataset}-${attached.version}.h5"`,
      "strata-version": String(attached.version),
    });
  });
  app.post("/v1/datasets/:name/import", async (c) => {
    const runtime = runtimeOf(o);
    const name = c.req.param("name");
    const type = mediaType(c.req.header("content-type"));
    if (type !== HDF5_MEDIA_TYPE && type !== "application/octet-stream") {
      throw new UnsupportedMediaTypeError(
        `Unsupported content type: an HDF5 file is ${HDF5_MEDIA_TYPE}, found '${type || "none"}'`,
      );
    }
    // The datasets' bytes, decoded, within the same limit as the file's.
    const imported = await fromHdf5(await readBoundedBytes(c.req.raw, o.maxPayloadBytes), {
      name,
      maxBytes: o.maxPayloadBytes,
    });
    const retention = c.req.query("retention");
    const created = await o.catalog.createDataset({
      name,
      description: imported.description,
      durable: c.req.query("durable") === "true",
      ...(retention === undefined ? {} : { retention: Number(retention) }),
    });
    try {
      const { committed } = await runtime.publish({
        dataset: name,
        version: 1,
        fragment: "dataset",
        bindings: {},
        bytes: imported.bytes,
      });
      return reply(c, {
        ...created as object,
        version: 1,
        committed,
        variables: imported.variables,
      }, 201);
    } catch (e) {
      // A dataset whose version 1 failed to publish is not left behind.
      await o.catalog.deleteDataset(name, { force: true }).catch(() => {});
      throw e;
    }
  });
}

function runtimeOf(o: DataRouteOptions) {
  if (o.runtime === undefined) {
    throw new NotFoundError(
      "This is a name server: export and import HDF5 files at a runtime (strata runtime or strata serve)",
    );
  }
  return o.runtime;
}
