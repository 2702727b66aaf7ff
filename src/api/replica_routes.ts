/**
 * The route a runtime offers the other runtimes of its cluster: keep a
 * replica of a copy that the placement policy of the publishing node put
 * here (`POST /v1/replicas`). The bytes move over the data plane; this
 * request only names the copy and the tier.
 *
 * @module
 */

import type { Hono } from "hono";
import { InvalidRequestError } from "../errors.ts";
import type { FragmentRecord } from "../name_service/name_service.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { readControlBody, reply } from "./negotiate.ts";

/** What the replica route needs. */
export interface ReplicaRouteOptions {
  /** This node's runtime. */
  readonly runtime: Runtime;
  /** Largest control body. */
  readonly maxBodyBytes: number;
}

/**
 * Mounts `POST /v1/replicas` on `app`: body `{copy, tier}`, where `copy` is
 * the registered record of the copy (as the name server keeps it) and
 * `tier` a tier of this node. Answers `{tier}` (where the replica went)
 * once it is stored and registered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { mountReplicaRoutes } from "./replica_routes.ts";
 * import type { Runtime } from "../runtime/runtime.ts";
 * const app = new Hono();
 * const runtime = { replicate: () => Promise.resolve({ tier: "memory" }) } as unknown as Runtime;
 * mountReplicaRoutes(app, { runtime, maxBodyBytes: 1 << 20 });
 * const copy = { dataset: "d", version: 1, fragment: "dataset", bindings: {}, node: "a", tier: "memory", byteLength: 8, checksum: 0 };
 * const res = await app.request("/v1/replicas", {
 *   method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ copy, tier: "memory" }),
 * });
 * assert.deepEqual(await res.json(), { tier: "memory" });
 * ```
 */
export function mountReplicaRoutes(app: Hono, o: ReplicaRouteOptions): void {
  app.post("/v1/replicas", async (c) => {
    const body = await readControlBody(c.req.raw, o.maxBodyBytes) as {
      copy?: unknown;
      tier?: unknown;
    };
    const copy = body?.copy as FragmentRecord | undefined;
    if (
      typeof copy !== "object" || copy === null || typeof copy.dataset !== "string" ||
      typeof copy.node !== "string" || typeof copy.fragment !== "string" ||
      !Number.isSafeInteger(copy.version) || !Number.isSafeInteger(copy.byteLength) ||
      typeof copy.checksum !== "number" || typeof copy.bindings !== "object" ||
      copy.bindings === null || typeof copy.tier !== "string"
    ) {
      throw new InvalidRequestError(
        "Invalid replica request: expected {copy: {dataset, version, fragment, bindings, node, tier, byteLength, checksum}, tier}",
      );
    }
    if (typeof body.tier !== "string" || body.tier === "") {
      throw new InvalidRequestError("Invalid replica request: expected a tier name in 'tier'");
    }
    return reply(c, await o.runtime.replicate({ copy, tier: body.tier }));
  });
}
