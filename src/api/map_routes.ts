/**
 * Routes of the same node's shared memory: a process on the runtime's node
 * maps the file of a copy held in an shm tier, under a lease the runtime
 * keeps (`POST .../map`, `POST /v1/leases/:lease/renew`, `DELETE
 * /v1/leases/:lease`), and publishes by writing its bytes into a file of
 * the shm tier instead of a request body (`POST .../stage`, `POST
 * /v1/stages/:stage`, `DELETE /v1/stages/:stage`).
 *
 * @module
 */

import type { Context, Hono } from "hono";
import {
  InvalidRequestError,
  NotFoundError,
  NotHereError,
  SizeMismatchError,
  type StrataError,
} from "../errors.ts";
import { type MapGrant, type MapLeases, nodeLeases } from "../runtime/map_leases.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { copyKey } from "../tiers/copy_keys.ts";
import { sameLayout } from "../wire/cut.ts";
import { checkBindings, checkLabel } from "../registry/validate.ts";
import { integerQuery, versionParam } from "./fields.ts";
import { reply } from "./negotiate.ts";
import { notStaged, Stages } from "../tiers/stages.ts";

/** What the map routes need. */
export interface MapRouteOptions {
  /** This node's runtime. */
  readonly runtime: Runtime;
  /** The leases (default: new leases over the runtime's tiers, 30 s each). */
  readonly leases?: MapLeases;
  /** Longest `wait` a map may ask for, in ms (default an hour). */
  readonly maxWaitMs?: number;
  /** How long a staged file waits for its publish, in ms (default 60 000); then it is removed. */
  readonly stageTtlMs?: number;
  /** Staged files at once; one more is 503 `busy` (default 256). */
  readonly maxStages?: number;
}

/**
 * Mounts the map, lease and stage routes on `app`. A map answers the file
 * holding the fragment's bytes exactly in its layout, or 421 `not_here` when
 * this node holds no such copy in an shm tier (the client attaches over
 * HTTP). A map of parts (`POST .../parts`) answers, in one request, a file
 * for each copy the fragment region is gathered from that this node holds
 * in an shm tier, each in its stored layout (the caller reads the region
 * from them in place), under one lease for them all, and lists the other
 * copies with their nodes. A stage answers a new file on an shm tier for the caller to write
 * the fragment's bytes into; `POST /v1/stages/:stage` then publishes them
 * as a `PUT` of the same bytes would (read once from the file, checksummed,
 * stored and registered), and removes the file. A stage with no room on an
 * shm tier, or of a fragment whose size is read from its bytes, is 421
 * `not_here` (the client sends the bytes in the body).
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
  const leases = o.leases ?? nodeLeases(o.runtime.tiers);
  const maxWait = o.maxWaitMs ?? 3_600_000;
  app.post("/v1/datasets/:name/versions/:version/fragments/:fragment/map", async (c) => {
    const runtime = o.runtime;
    const { dataset, fragment, bindings, ttlMs, found } = await locateRegion(c, runtime, maxWait);
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
  const groups = new LeaseGroups(leases);
  app.post("/v1/datasets/:name/versions/:version/fragments/:fragment/parts", async (c) => {
    const runtime = o.runtime;
    const { dataset, fragment, bindings, ttlMs, found } = await locateRegion(c, runtime, maxWait);
    const node = runtime.node;
    const granted = await Promise.allSettled(found.sources.map(async (s) => {
      const here = s.node === node || (s.replicas ?? []).some((p) => p.node === node);
      const key = copyKey(s.dataset, s.version, s.fragment, s.bindings);
      // A copy being overwritten is not mapped: its bytes are about to change.
      if (!here || runtime.tiers.keys(`${key}#`).length > 0) return undefined;
      return await leases.grant(key, s.byteLength, ttlMs === undefined ? {} : { ttlMs });
    }));
    const failed = granted.find((g) => g.status === "rejected");
    if (failed !== undefined) {
      for (const g of granted) {
        if (g.status === "fulfilled" && g.value !== undefined) await leases.release(g.value.lease);
      }
      throw failed.reason;
    }
    const parts = [];
    const unmapped = [];
    const members: MapGrant[] = [];
    for (const [i, s] of found.sources.entries()) {
      const grant = (granted[i] as PromiseFulfilledResult<MapGrant | undefined>).value;
      const copy = { fragment: s.fragment, bindings: s.bindings, layout: s.layout };
      if (grant === undefined) {
        unmapped.push({ ...copy, node: s.node });
        continue;
      }
      members.push(grant);
      const { path, offset, byteLength, tier } = grant;
      parts.push({ ...copy, path, offset, byteLength, tier });
    }
    return reply(c, {
      dataset,
      version: found.version,
      fragment,
      bindings,
      layout: found.layout,
      ...(members.length === 0 ? {} : groups.open(members)),
      parts,
      unmapped,
    }, 201);
  });
  const stages = new Stages<Publish>(o.stageTtlMs ?? 60_000, o.maxStages ?? 256);
  app.post("/v1/datasets/:name/versions/:version/fragments/:fragment/stage", async (c) => {
    const dataset = c.req.param("name");
    const fragment = c.req.param("fragment");
    checkLabel("fragment name", fragment);
    const version = versionParam(c.req.param("version"), false) as number;
    const { bindings, waitMs, ttlMs } = mapQuery(new URL(c.req.url).searchParams, maxWait);
    if (waitMs !== undefined || ttlMs !== undefined) {
      throw new InvalidRequestError(
        `Unknown query parameter '${
          waitMs === undefined ? "ttl" : "wait"
        }': a stage takes region bindings only`,
      );
    }
    const byteLength = await o.runtime.expectedBytes(dataset, fragment, bindings, version);
    const what = `fragment '${fragment}' of version ${version} of '${dataset}'`;
    if (byteLength === undefined) {
      throw notStaged(`the size of ${what} is read from its bytes`);
    }
    // Created empty: the caller opens it for writing, as the runtime's user.
    const answer = await stages.create(o.runtime.tiers, byteLength, what, {
      dataset,
      version,
      fragment,
      bindings,
    });
    return reply(c, answer, 201);
  });
  app.post("/v1/stages/:stage", async (c) => {
    const stage = stages.take(c.req.param("stage"));
    try {
      const { dataset, version, fragment, bindings } = stage.payload;
      const size = (await Deno.stat(stage.path)).size;
      if (size !== stage.byteLength) {
        throw new SizeMismatchError(fragment, stage.byteLength, size, {
          message:
            `Cannot publish staged fragment '${fragment}': expected ${stage.byteLength} bytes, the file holds ${size}`,
        });
      }
      // The publish stores the file as a copy, which takes its room anew.
      stage.release();
      const { committed, record } = await o.runtime.publishFile({
        dataset,
        version,
        fragment,
        bindings,
        file: { path: stage.path, byteLength: stage.byteLength, tier: stage.tier },
      });
      return reply(c, { committed, ...record }, 201);
    } finally {
      await stages.remove(stage);
    }
  });
  app.delete("/v1/stages/:stage", async (c) => {
    await stages.remove(stages.take(c.req.param("stage")));
    return c.body(null, 204);
  });
  app.post("/v1/leases/:lease/renew", async (c) => {
    const { ttlMs } = mapQuery(new URL(c.req.url).searchParams, maxWait, false);
    const lease = c.req.param("lease");
    const options = ttlMs === undefined ? {} : { ttlMs };
    return reply(
      c,
      groups.has(lease) ? await groups.renew(lease, options) : leases.renew(lease, options),
    );
  });
  app.delete("/v1/leases/:lease", async (c) => {
    const lease = c.req.param("lease");
    const released = groups.has(lease) ? await groups.release(lease) : await leases.release(lease);
    if (!released) {
      throw new NotFoundError(
        `Unknown map lease '${lease.slice(0, 64)}': it was released or expired`,
      );
    }
    return c.body(null, 204);
  });
}

/**
 * Leases that stand for several (a map of parts): one id the caller renews
 * and releases, each member granted, renewed and released with it.
 */
class LeaseGroups {
  readonly #leases: MapLeases;
  readonly #groups = new Map<string, { members: string[]; expiresAt: number }>();

  constructor(leases: MapLeases) {
    this.#leases = leases;
  }

  /** A lease standing for `members` (granted with one length). */
  open(members: readonly MapGrant[]): { lease: string; expiresAt: number; ttlMs: number } {
    this.#sweep();
    const lease = crypto.randomUUID();
    const expiresAt = Math.min(...members.map((m) => m.expiresAt));
    this.#groups.set(lease, { members: members.map((m) => m.lease), expiresAt });
    return { lease, expiresAt, ttlMs: members[0]!.ttlMs };
  }

  /** Whether `lease` is a live group's. */
  has(lease: string): boolean {
    this.#sweep();
    return this.#groups.has(lease);
  }

  /** Renews every member; a member gone (expired) ends the group: `not_found`. */
  async renew(
    lease: string,
    options: { readonly ttlMs?: number },
  ): Promise<{ lease: string; expiresAt: number; ttlMs: number }> {
    const group = this.#groups.get(lease)!;
    let renewed: { expiresAt: number; ttlMs: number } | undefined;
    try {
      for (const m of group.members) renewed = this.#leases.renew(m, options);
    } catch (e) {
      await this.release(lease);
      throw e;
    }
    group.expiresAt = renewed!.expiresAt;
    return { lease, expiresAt: renewed!.expiresAt, ttlMs: renewed!.ttlMs };
  }

  /** Releases every member; answers whether one was still held. */
  async release(lease: string): Promise<boolean> {
    const group = this.#groups.get(lease);
    if (group === undefined) return false;
    this.#groups.delete(lease);
    // At once: each member's link is unlinked on the file system's threads.
    const held = await Promise.all(group.members.map((m) => this.#leases.release(m)));
    return held.some(Boolean);
  }

  /** Forgets groups whose members expired (the leases sweep those). */
  #sweep(): void {
    const now = Date.now();
    for (const [lease, g] of this.#groups) if (g.expiresAt <= now) this.#groups.delete(lease);
  }
}

/** What a staged fragment publishes. */
interface Publish {
  readonly dataset: string;
  readonly version: number;
  readonly fragment: string;
  readonly bindings: Readonly<Record<string, number>>;
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

/** The region a map or parts request names, its lease time, and where its copies are. */
async function locateRegion(c: Context, runtime: Runtime, maxWait: number) {
  const dataset = c.req.param("name")!;
  const fragment = c.req.param("fragment")!;
  checkLabel("fragment name", fragment);
  const { bindings, waitMs, ttlMs } = mapQuery(new URL(c.req.url).searchParams, maxWait);
  const found = await runtime.locate({
    dataset,
    version: versionParam(c.req.param("version")!, true),
    fragment,
    bindings,
    ...(waitMs === undefined ? {} : { waitMs }),
  });
  return { dataset, fragment, bindings, ttlMs, found };
}
