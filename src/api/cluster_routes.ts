/**
 * Routes a name server offers its runtimes (`/v1/cluster/...`): the name
 * service operations, node leases and release notices. Runtimes reach them
 * through `RemoteNameService` (src/cluster/name_client.ts); they carry no
 * payload bytes.
 *
 * @module
 */

import type { Hono } from "hono";
import { InvalidRequestError } from "../errors.ts";
import type { NodeBook } from "../cluster/node_book.ts";
import type { ReleaseLog } from "../cluster/release_log.ts";
import type { Registry } from "../registry/registry.ts";
import type { CopyRef, FragmentRecord, NodeTier } from "../runtime/name_service.ts";
import { readControlBody, reply } from "./negotiate.ts";

/** What the cluster routes need. */
export interface ClusterRouteOptions {
  /** The name server's registry. */
  readonly registry: Registry;
  /** Release notices for runtimes in other processes. */
  readonly releases: ReleaseLog;
  /** Node leases. */
  readonly nodes: NodeBook;
  /** Largest control body. */
  readonly maxBodyBytes: number;
  /** Longest wait a runtime may ask for, in ms (default 60 000). */
  readonly maxWaitMs?: number;
}

/**
 * Mounts the `/v1/cluster` routes on `app`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { mountClusterRoutes } from "./cluster_routes.ts";
 * import { NodeBook } from "../cluster/node_book.ts";
 * import { ReleaseLog } from "../cluster/release_log.ts";
 * import { openRegistry } from "../registry/registry.ts";
 * await using registry = await openRegistry({ path: ":memory:" });
 * const app = new Hono();
 * mountClusterRoutes(app, { registry, releases: new ReleaseLog(), nodes: new NodeBook(registry), maxBodyBytes: 1 << 20 });
 * const res = await app.request("/v1/cluster/nodes", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ id: "a", url: "http://127.0.0.1:7071", wire: "127.0.0.1:7171", tiers: [], leaseMs: 5000 }),
 * });
 * assert.equal(res.status, 200);
 * assert.equal((await res.json()).wire, "127.0.0.1:7171");
 * ```
 */
export function mountClusterRoutes(app: Hono, o: ClusterRouteOptions): void {
  const maxWait = o.maxWaitMs ?? 60_000;
  app.get("/v1/cluster/datasets/:name/settings", async (c) => {
    return reply(c, await o.registry.datasetSettings(c.req.param("name")));
  });
  app.get("/v1/cluster/datasets/:name/fragments/:fragment/layout", async (c) => {
    const bindings = integers(new URL(c.req.url).searchParams);
    return reply(
      c,
      await o.registry.fragmentLayout(c.req.param("name"), c.req.param("fragment"), bindings),
    );
  });
  app.post("/v1/cluster/publish", async (c) => {
    const record = await readControlBody(c.req.raw, o.maxBodyBytes) as FragmentRecord;
    const { committed } = await o.registry.publishFragment(record);
    return reply(c, { committed });
  });
  app.post("/v1/cluster/relocate", async (c) => {
    const body = await copyBody(c.req.raw, o.maxBodyBytes, "relocation", "{copy, tier}");
    return reply(c, {
      relocated: await o.registry.relocateFragment(body.copy, body.tier as string),
    });
  });
  app.post("/v1/cluster/replicas", async (c) => {
    const body = await copyBody(c.req.raw, o.maxBodyBytes, "replica", "{copy, tier}");
    return reply(c, { added: await o.registry.addReplica(body.copy, body.tier as string) });
  });
  app.post("/v1/cluster/drop", async (c) => {
    const body = await copyBody(c.req.raw, o.maxBodyBytes, "drop", "{copy}");
    return reply(c, { dropped: await o.registry.dropCopy(body.copy) });
  });
  app.post("/v1/cluster/lookup", async (c) => {
    const q = await readControlBody(c.req.raw, o.maxBodyBytes) as Record<string, unknown>;
    if (q.waitMs !== undefined && !(Number.isSafeInteger(q.waitMs) && (q.waitMs as number) >= 0)) {
      throw new InvalidRequestError(
        `Invalid lookup: 'waitMs' must be an integer >= 0, found ${JSON.stringify(q.waitMs)}`,
      );
    }
    const query = {
      dataset: String(q.dataset),
      version: q.version === "latest" ? "latest" as const : Number(q.version),
      fragment: String(q.fragment),
      bindings: (q.bindings ?? {}) as Record<string, number>,
    };
    // With `waitMs`, a version not committed yet is waited for in this request.
    const found = q.waitMs === undefined
      ? await o.registry.attachFragments(query)
      : await o.registry.attachFragments(query, {
        waitMs: Math.min(q.waitMs as number, maxWait),
      });
    return reply(c, found);
  });
  app.get("/v1/cluster/datasets/:name/wait", async (c) => {
    const q = integers(new URL(c.req.url).searchParams);
    const timeoutMs = Math.min(q.timeoutMs ?? maxWait, maxWait);
    const version = await o.registry.waitForVersion(c.req.param("name"), q.atLeast ?? 1, {
      timeoutMs,
    });
    return reply(c, { version });
  });
  app.post("/v1/cluster/datasets/:name/versions/:version/commit", async (c) => {
    const r = await o.registry.commitVersion(c.req.param("name"), Number(c.req.param("version")));
    return reply(c, r);
  });
  app.post("/v1/cluster/nodes", async (c) => {
    const b = await readControlBody(c.req.raw, o.maxBodyBytes) as Record<string, unknown>;
    const record = await o.nodes.register({
      id: String(b.id),
      url: String(b.url),
      tiers: (b.tiers ?? []) as NodeTier[],
      ...(typeof b.wire === "string" ? { wire: b.wire } : {}),
    }, typeof b.leaseMs === "number" ? b.leaseMs : undefined);
    return reply(c, record);
  });
  app.post("/v1/cluster/nodes/:id/renew", async (c) => {
    const b = await readControlBody(c.req.raw, o.maxBodyBytes) as Record<string, unknown>;
    const leaseMs = typeof b?.leaseMs === "number" ? b.leaseMs : undefined;
    const tiers = Array.isArray(b?.tiers) ? b.tiers as NodeTier[] : undefined;
    return reply(c, await o.nodes.renew(c.req.param("id"), leaseMs, tiers));
  });
  app.get("/v1/cluster/nodes", async (c) => reply(c, { nodes: await o.registry.listNodes() }));
  app.get("/v1/cluster/releases", async (c) => {
    const params = new URL(c.req.url).searchParams;
    const node = params.get("node");
    if (node === null || node === "") {
      throw new InvalidRequestError("Missing query parameter 'node': whose releases to read");
    }
    params.delete("node");
    const q = integers(params);
    const batch = await o.releases.poll(
      node,
      q.after ?? 0,
      Math.min(q.wait ?? 0, maxWait),
    );
    return reply(c, batch);
  });
}

/** A control body naming a copy (`{copy, ...}`), or `InvalidRequestError`. */
async function copyBody(
  req: Request,
  maxBodyBytes: number,
  what: string,
  shape: string,
): Promise<{ copy: CopyRef; tier?: unknown }> {
  const body = await readControlBody(req, maxBodyBytes) as { copy?: CopyRef; tier?: unknown };
  if (typeof body?.copy !== "object" || body.copy === null) {
    throw new InvalidRequestError(`Invalid ${what}: expected ${shape}`);
  }
  return body as { copy: CopyRef; tier?: unknown };
}

function integers(params: URLSearchParams): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of params) {
    const n = Number(v);
    if (v === "" || !Number.isSafeInteger(n)) {
      throw new InvalidRequestError(`Query parameter '${k}' must be an integer, found '${v}'`);
    }
    out[k] = n;
  }
  return out;
}
