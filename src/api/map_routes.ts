/**
 * Routes of same-node zero-copy attach: a process on the runtime's node maps
 * the file of a copy held in an shm tier, under a lease the runtime keeps
 * (`POST .../map`, `POST /v1/leases/:lease/renew`, `DELETE /v1/leases/:lease`).
 *
 * @module
 */

import type { Hono } from "hono";
import { InvalidRequestError, NotFoundError, NotHereError, type StrataError } from "../errors.ts";
import { MapLeases } from "../runtime/map_leases.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { copyKey } from "../tiers/copy_keys.ts";
import { sameLayout } from "../wire/cut.ts";
import { checkBindings, checkLabel } from "../registry/validate.ts";
import { integerQuery, versionParam } from "./fields.ts";
import { reply } from "./negotiate.ts";

/** What the map routes need. */
export interface MapRouteOptions {
  /** This node's runtime. */
  readonly runtime: Runtime;
  /** The leases (default: new leases over the runtime's tiers, 30 s each). */
  readonly leases?: MapLeases;
  /** Longest `wait` a map may ask for, in ms (default an hour). */
  readonly maxWaitMs?: number;
}

/**
 * Mounts the map and lease routes on `app`. A map answers the file holding
 * the fragment's bytes exactly in its layout, or 421 `not_here` when this
 * node holds no such copy in an shm tier (the client attaches over HTTP).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { mountMapRoutes } from "./map_routes.ts";
 * import { errorResponse } from "./errors.ts";
 * import type { Runtime } from "../runtime/runtime.ts";
 * const runtime = { tiers: { shmFileOf: () => undefined, pin: () => undefined } } as unknown as Runtime;
 * const app = new Hono().onError(errorResponse);
 * mountMapRoutes(app, { runtime });
 * const res = await app.request("/v1/leases/nope", { method: "DELETE" });
 * assert.equal(res.status, 404);
 * ```
 */
export function mountMapRoutes(app: Hono, o: MapRouteOptions): void {
  const leases = o.leases ?? new MapLeases(o.runtime.tiers);
  const maxWait = o.maxWaitMs ?? 3_600_000;
  app.post("/v1/datasets/:name/versions/:version/fragments/:fragment/map", async (c) => {
    const runtime = o.runtime;
    const dataset = c.req.param("name");
    const fragment = c.req.param("fragment");
    checkLabel("fragment name", fragment);
    const { bindings, waitMs, ttlMs } = mapQuery(new URL(c.req.url).searchParams, maxWait);
    const found = await runtime.locate({
      dataset,
      version: versionParam(c.req.param("version"), true),
      fragment,
      bindings,
      ...(waitMs === undefined ? {} : { waitMs }),
    });
    const what = `fragment '${fragment}' of version ${found.version} of '${dataset}'`;
    const [source, ...more] = found.sources;
    if (source === undefined || more.length > 0) {
      throw notHere(`${what} is gathered from ${found.sources.length} copies`);
    }
    if (source.node !== runtime.node) {
      throw notHere(`${what} is held by node '${source.node}', not '${runtime.node}'`);
    }
    if (!sameLayout(source.layout, found.layout)) {
      throw notHere(
        `${what} is stored as fragment '${source.fragment}' and reshaped when attached`,
      );
    }
    const key = copyKey(source.dataset, source.version, source.fragment, source.bindings);
    if (runtime.tiers.keys(`${key}#`).length > 0) {
      throw notHere(`${what} is being overwritten`);
    }
    const grant = await leases.grant(key, source.byteLength, ttlMs === undefined ? {} : { ttlMs });
    if (grant === undefined) {
      throw notHere(
        `${what} is not held in an shm tier of node '${runtime.node}' (tiers: ${
          runtime.tiers.tiersOf(key).join(", ") || "none"
        })`,
      );
    }
    return reply(c, {
      dataset,
      version: found.version,
      fragment,
      bindings,
      layout: found.layout,
      ...grant,
    }, 201);
  });
  app.post("/v1/leases/:lease/renew", (c) => {
    const { ttlMs } = mapQuery(new URL(c.req.url).searchParams, maxWait, false);
    return reply(c, leases.renew(c.req.param("lease"), ttlMs === undefined ? {} : { ttlMs }));
  });
  app.delete("/v1/leases/:lease", async (c) => {
    const lease = c.req.param("lease");
    if (!(await leases.release(lease))) {
      throw new NotFoundError(
        `Unknown map lease '${lease.slice(0, 64)}': it was released or expired`,
      );
    }
    return c.body(null, 204);
  });
}

function notHere(why: string): StrataError {
  return new NotHereError(`Cannot map in place: ${why}; attach it over HTTP`);
}

/** Query of a map: `wait` and `ttl` (ms), the rest integer region bindings. */
function mapQuery(
  params: URLSearchParams,
  maxWaitMs: number,
  bindingsAllowed = true,
): { bindings: Record<string, number>; waitMs?: number; ttlMs?: number } {
  const bindings: Record<string, number> = {};
  let waitMs: number | undefined;
  let ttlMs: number | undefined;
  for (const [k, v] of params) {
    const n = integerQuery(k, v, maxWaitMs);
    if (k === "wait") waitMs = n;
    else if (k === "ttl") ttlMs = n;
    else if (bindingsAllowed) bindings[k] = n;
    else {
      throw new InvalidRequestError(
        `Unknown query parameter '${k.slice(0, 40)}': expected 'ttl'`,
      );
    }
  }
  checkBindings("query", bindings);
  return {
    bindings,
    ...(waitMs === undefined ? {} : { waitMs }),
    ...(ttlMs === undefined ? {} : { ttlMs }),
  };
}
